"""Gradient descent of one parameter group until a model's activations match a target's.

Each step renders every view at low spp with a new seed (Dr.Jit), hands the renders to torch
through ``dr.wrap`` (no host copies), tone maps them differentiably, computes the activation
distance to the target (mean over views and layers), and back-propagates through the model and
the renderer into the group's latent variables (by default the residual comes from a second,
independent set of renders: :mod:`mrd.synthesis.objective`, "Gradient estimator"), which Adam (``mi.ad.Adam``; uniform for
LargeSteps) updates with the group's learning rate.

Stopping: :class:`mrd.synthesis.stop.StopRule`. After each step the group's hook
(:meth:`mrd.groups.base.GroupParam.after_step`, e.g. shape remeshing) may hand back new latents,
on which Adam restarts.

Examples
--------
>>> OptResult({}, {}, np.zeros(1), np.zeros(1), 1, 0.0, "success").converged
True
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import mrd  # noqa: F401  (libLLVM for Dr.Jit)
from mrd.groups.base import GroupParam
from mrd.synthesis.objective import Objective
from mrd.synthesis.stop import StopRule

StepCallback = Callable[[int, float, float], None]
CheckCallback = Callable[[int, dict[str, np.ndarray]], dict[str, Any]]
RESIDUAL_SEED_OFFSET = 0x5EED0000
"""Added to a step's render seed for its residual renders (``gradient = "independent"``)."""
BEST_WINDOW = 5
"""Steps over which the loss is averaged to pick the best iterate (step renders are noisy)."""


@dataclass(frozen=True)
class Schedule:
    """Learning-rate decay, spp ramp, returned iterate and criterion checks of an optimisation.

    The default (constant rate, fixed spp, last iterate, no checks) is the plain loop.

    Examples
    --------
    >>> s = Schedule(decay="cosine", final_fraction=0.1)
    >>> [round(s.lr_at(1.0, k, 11), 3) for k in (0, 5, 10)]
    [1.0, 0.55, 0.1]
    >>> Schedule(decay="halving").lr_at(1.0, 80, 100)
    0.25
    >>> Schedule(spp_final=16).spp_at(4, 10, 11)
    16
    >>> Schedule(spp_final=16).spp_levels(4), Schedule(spp_final=16).spp_at(4, 6, 11)
    ([4, 8, 16], 8)
    """

    decay: str = "none"
    final_fraction: float = 0.1
    iterate: str = "last"
    spp_final: int = 0
    check_every: int = 0
    average_window: int = 20
    passes: int = 1

    def lr_at(self, lr: float, step: int, steps: int) -> float:
        """The learning rate of ``step`` (0-based) of ``steps``."""
        t = step / max(steps - 1, 1)
        if self.decay == "cosine":
            f = self.final_fraction
            return float(lr * (f + (1.0 - f) * 0.5 * (1.0 + np.cos(np.pi * t))))
        if self.decay == "halving":
            return float(lr * (0.5 if t >= 0.5 else 1.0) * (0.5 if t >= 0.75 else 1.0))
        return float(lr)

    def spp_levels(self, spp: int) -> list[int]:
        """The sample counts a ramp from ``spp`` uses: doublings of ``spp`` up to ``spp_final``.

        Few levels, because the objective's target is re-rendered at each one (a target at another
        spp than the step's renders biases the optimum: the model's activations of noisy renders are
        shifted, not only spread, by the noise; ``benchmarks/results/activation_noise.md``).
        """
        if self.spp_final <= spp:
            return [spp]
        levels = [spp]
        while levels[-1] * 2 < self.spp_final:
            levels.append(levels[-1] * 2)
        return [*levels, self.spp_final]

    def spp_at(self, spp: int, step: int, steps: int) -> int:
        """Samples per pixel of ``step``: a linear ramp to ``spp_final`` (when set), snapped down to a level."""
        if self.spp_final <= 0:
            return spp
        t = step / max(steps - 1, 1)
        ramp = spp + (self.spp_final - spp) * t
        return max(v for v in self.spp_levels(spp) if v <= ramp + 1e-9)

    def info(self) -> dict[str, Any]:
        """What is recorded with the metamer."""
        out: dict[str, Any] = {"lr_decay": self.decay, "iterate": self.iterate}
        if self.iterate == "average":
            out["average_window"] = self.average_window
        if self.decay == "cosine":
            out["lr_final_fraction"] = self.final_fraction
        if self.spp_final:
            out["spp_final"] = self.spp_final
        if self.check_every:
            out["check_every"] = self.check_every
            out["passes"] = self.passes
        return out


class IterateAverage:
    """The mean of the last ``window`` iterates (Polyak averaging of the physical values).

    Float arrays are averaged; anything else (a mesh's faces) is the newest iterate's. A remesh
    (:meth:`restart`), or an iterate whose arrays change shape, restarts the window.

    Examples
    --------
    >>> w = IterateAverage(2)
    >>> for x in (1.0, 2.0, 4.0):
    ...     w.add({"a": np.array([x]), "faces": np.array([[0, 1, 2]])})
    >>> w.mean()["a"].tolist(), len(w)
    ([3.0], 2)
    >>> w.add({"a": np.array([1.0, 1.0]), "faces": np.array([[0, 1, 2]])}); len(w)
    1
    """

    def __init__(self, window: int) -> None:
        self._items: deque[dict[str, np.ndarray]] = deque(maxlen=int(window))

    def __len__(self) -> int:
        return len(self._items)

    def restart(self) -> None:
        """Forget the iterates so far (the group's representation changed)."""
        self._items.clear()

    def add(self, values: dict[str, np.ndarray]) -> None:
        """Append an iterate (dropping the oldest beyond the window; restarting on a shape change)."""
        values = {k: np.array(v, copy=True) for k, v in values.items()}
        if self._items and any(np.shape(values[k]) != np.shape(v) for k, v in self._items[-1].items()):
            self._items.clear()
        self._items.append(values)

    def mean(self) -> dict[str, np.ndarray]:
        """The window's mean (float arrays, in their dtype) with the newest iterate's other entries."""
        last = self._items[-1]
        out = {}
        for k, v in last.items():
            if np.issubdtype(np.asarray(v).dtype, np.floating):
                out[k] = np.mean([it[k] for it in self._items], axis=0).astype(np.asarray(v).dtype)
            else:
                out[k] = np.array(v, copy=True)
        return out


@dataclass
class OptResult:
    """Outcome of :func:`optimize`."""

    initial: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    loss: np.ndarray
    similarity: np.ndarray
    steps: int
    wall_time_s: float
    stop_reason: str
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        """True when a criterion other than the step limit stopped the run."""
        return self.stop_reason in ("success", "converged")


class Optimization:
    """The state of one optimisation of ``group`` (already written into ``renderer`` at its start).

    :meth:`run` takes steps until the stop rule fires or a step budget is used up, and can be called
    again to go on (the Adam state, step counter and curves are kept). Parameters as :func:`optimize`.
    """

    def __init__(
        self, renderer: Any, group: GroupParam, objective: Objective, *, lr: float, spp: int, seed: int,
        rule: StopRule, null_max: float | None = None, ceiling: float | None = None,
        schedule: Schedule | None = None, target_at: Callable[[int], Any] | None = None,
    ) -> None:  # fmt: skip
        import mitsuba as mi

        self.renderer, self.group, self.objective = renderer, group, objective
        self.lr, self.spp, self.seed, self.rule = lr, spp, seed, rule
        self.null_max, self.ceiling = null_max, ceiling
        self.schedule = schedule or Schedule()
        self.target_at = target_at
        self.targets: dict[int, Any] = {spp: objective.target}
        self.best: tuple[float, int, dict[str, np.ndarray]] | None = None
        self.window = IterateAverage(self.schedule.average_window)
        self.checked: tuple[int, dict[str, np.ndarray]] | None = None  # the iterate a passing check accepted
        self.streak = 0  # consecutive passing checks
        self.checks: list[dict[str, Any]] = []
        self.opt = mi.ad.Adam(lr=lr, uniform=group.uniform)
        for k, v in group.init().items():
            self.opt[k] = v
        self.initial = group.values(self.opt)
        self.losses: list[float] = []
        self.sims: list[float] = []
        self.reason: str | None = None
        self.wall_time_s = 0.0

    @property
    def step(self) -> int:
        """Steps taken so far."""
        return len(self.losses)

    @property
    def done(self) -> bool:
        """Whether a stop reason fired (further :meth:`run` calls do nothing)."""
        return self.reason is not None

    def values(self) -> dict[str, np.ndarray]:
        """The group's current physical values."""
        return self.group.values(self.opt)

    def current(self) -> dict[str, np.ndarray]:
        """The iterate the schedule stands for now: the last one, or the mean of the last window (``average``)."""
        if self.schedule.iterate == "average" and len(self.window):
            return self.window.mean()
        return self.values()

    def values_to_return(self) -> dict[str, np.ndarray]:
        """The iterate the schedule returns: the one a passing check accepted, else the best (lowest 5-step
        mean loss), the window mean or the last."""
        if self.checked is not None:
            return {k: np.array(v, copy=True) for k, v in self.checked[1].items()}
        if self.schedule.iterate == "best" and self.best is not None:
            return {k: np.array(v, copy=True) for k, v in self.best[2].items()}
        return self.current()

    def run(
        self, max_steps: int | None = None, on_step: StepCallback | None = None, check: CheckCallback | None = None
    ) -> str | None:
        """Take up to ``max_steps`` steps (default: until the rule stops); return the stop reason or None.

        ``check(step, values)``, called every ``schedule.check_every`` steps, returns a dict with a
        ``"passed"`` key; the run stops with reason ``"criterion"`` after ``schedule.passes`` consecutive passes.
        """
        import drjit as dr

        ren, group, opt, sch = self.renderer, self.group, self.opt, self.schedule
        t0 = time.perf_counter()
        taken = 0
        while self.reason is None and self.step < self.rule.steps and (max_steps is None or taken < max_steps):
            step = self.step
            if sch.decay != "none":
                opt.set_learning_rate(sch.lr_at(self.lr, step, self.rule.steps))
            spp = sch.spp_at(self.spp, step, self.rule.steps)
            if spp not in self.targets:  # a new ramp level: the target at the same spp as the step's renders
                if self.target_at is None:
                    raise ValueError(f"spp ramp to {spp}: the objective's target at that spp is needed (target_at)")
                self.targets[spp] = self.target_at(spp)
            self.objective.target = self.targets[spp]
            group.apply(opt, ren)
            ren.update()
            seed = self.seed + step * ren.n_views
            if self.objective.gradient == "independent":
                with dr.suspend_grad():
                    residual_images = ren.render_views(spp, seed + RESIDUAL_SEED_OFFSET, group.integrator)
                loss_value = self.objective.residual(residual_images)
                dr.backward(self.objective.linear(ren.render_views(spp, seed, group.integrator)))
            else:
                loss = self.objective(ren.render_views(spp, seed, group.integrator))
                dr.backward(loss)
                loss_value = float(loss.array[0])
            opt.step()
            self.losses.append(loss_value)
            self.sims.append(self.objective.last_similarity)
            taken += 1
            if on_step is not None:
                on_step(step, self.losses[-1], self.sims[-1])
            if sch.iterate == "average":
                self.window.add(self.values())
            if sch.iterate == "best" and len(self.losses) >= BEST_WINDOW:
                mean = float(np.mean(self.losses[-BEST_WINDOW:]))
                if np.isfinite(mean) and (self.best is None or mean < self.best[0]):
                    self.best = (mean, step + 1, self.values())
            if not np.isfinite(self.losses[-1]):
                self.reason = "diverged"
            else:
                self.reason = self.rule.check(self.losses, self.sims, self.null_max, self.ceiling)
            if self.reason is None and check is not None and sch.check_every and (step + 1) % sch.check_every == 0:
                judged = self.current()
                result = check(step + 1, judged)
                self.checks.append({"step": step + 1, **{k: v for k, v in result.items() if k != "values"}})
                self.streak = self.streak + 1 if result.get("passed") else 0
                if self.streak >= sch.passes:
                    self.reason = "criterion"
                    self.checked = (step + 1, judged)  # the checked iterate is the one returned
            if self.reason is not None:
                break
            new = group.after_step(step, opt, ren)
            if new is not None:  # a remesh: iterates before it are on another mesh
                self.window.restart()
                for k, v in new.items():
                    opt[k] = v
                    opt.reset(k)
        self.wall_time_s += time.perf_counter() - t0
        return self.reason

    def result(self) -> OptResult:
        """The outcome so far."""
        info: dict[str, Any] = {
            "stop_reason": self.reason or "max_steps",
            "lr": self.lr,
            "spp": self.spp,
            "adam_uniform": self.group.uniform,
            "integrator": self.group.integrator,
            "gradient": self.objective.gradient,
        }
        if self.null_max is not None:
            info["success_threshold"] = self.rule.threshold(self.null_max, self.ceiling)
        info.update(self.group.info())
        info.update(self.schedule.info())
        if self.checked is not None:
            info["returned_step"] = self.checked[0]
        elif self.schedule.iterate == "best":
            info["returned_step"] = self.best[1] if self.best is not None else len(self.losses)
        if self.schedule.iterate == "average":
            info["averaged_iterates"] = len(self.window)
        if self.checks:
            info["criterion_checks"] = self.checks
        return OptResult(
            self.initial, self.values_to_return(), np.asarray(self.losses, np.float64), np.asarray(self.sims, np.float64),
            len(self.losses), self.wall_time_s, self.reason or "max_steps", info,
        )  # fmt: skip


def optimize(
    renderer: Any,
    group: GroupParam,
    objective: Objective,
    *,
    lr: float,
    spp: int,
    seed: int,
    rule: StopRule,
    null_max: float | None = None,
    ceiling: float | None = None,
    on_step: StepCallback | None = None,
) -> OptResult:
    """Optimise ``group`` (already written into ``renderer`` at its start values) until ``rule`` stops.

    Parameters
    ----------
    renderer : mrd.render.renderer.Renderer
        Holds the scene; every other group stays as it is.
    group : GroupParam
        The varied group's parametrisation.
    objective : Objective
        The loss.
    lr : float
        Adam learning rate (latent units).
    spp : int
        Samples per pixel per view and step.
    seed : int
        Render seed of step 0; step ``s`` uses ``seed + s * n_views`` (a new seed every step).
    rule : StopRule
    null_max : float, optional
        Largest null similarity (for the success criterion).
    ceiling : float, optional
        Noise ceiling: mean similarity of fresh target renders (:func:`mrd.synthesis.objective.noise_ceiling`).
    on_step : callable, optional
        ``on_step(step, loss, similarity)`` after each step.

    Returns
    -------
    OptResult
    """
    run = Optimization(renderer, group, objective, lr=lr, spp=spp, seed=seed, rule=rule, null_max=null_max,
                       ceiling=ceiling)  # fmt: skip
    run.run(on_step=on_step)
    return run.result()
