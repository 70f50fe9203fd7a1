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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import mrd  # noqa: F401  (libLLVM for Dr.Jit)
from mrd.groups.base import GroupParam
from mrd.synthesis.objective import Objective
from mrd.synthesis.schedule import IterateAverage, Schedule
from mrd.synthesis.stop import StopRule

StepCallback = Callable[[int, float, float], None]
CheckCallback = Callable[[int, dict[str, np.ndarray]], dict[str, Any]]
RESIDUAL_SEED_OFFSET = 0x5EED0000
"""Added to a step's render seed for its residual renders (``gradient = "independent"``)."""
BEST_WINDOW = 5
"""Steps over which the loss is averaged to pick the best iterate (step renders are noisy)."""


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
            seed = self.seed + step * ren.n_views
            if sch.per_view:  # an Adam update after every view (the MRD reference's schedule)
                full = self.targets[spp]
                parts = [self._update(spp, seed, [v], {k: t[v : v + 1] for k, t in full.items()})
                         for v in range(ren.n_views)]  # fmt: skip
                self.objective.target = full
                loss_value, sim = float(np.mean([p[0] for p in parts])), float(np.mean([p[1] for p in parts]))
            else:
                loss_value, sim = self._update(spp, seed, None, self.targets[spp])
            self.losses.append(loss_value)
            self.sims.append(sim)
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
                if sch.remesh_lr_factor != 1.0:
                    self.lr *= sch.remesh_lr_factor
                    opt.set_learning_rate(sch.lr_at(self.lr, step + 1, self.rule.steps))
        self.wall_time_s += time.perf_counter() - t0
        return self.reason

    def _update(self, spp: int, seed: int, views: list[int] | None, target: dict[str, Any]) -> tuple[float, float]:
        """One Adam update from the renders of ``views`` (all when None) against ``target``; (loss, similarity)."""
        import drjit as dr

        ren, group, opt = self.renderer, self.group, self.opt
        self.objective.target = target
        group.apply(opt, ren)
        ren.update()
        if self.objective.gradient == "independent":
            with dr.suspend_grad():
                residual_images = ren.render_views(spp, seed + RESIDUAL_SEED_OFFSET, group.integrator, views)
            loss_value = self.objective.residual(residual_images)
            dr.backward(self.objective.linear(ren.render_views(spp, seed, group.integrator, views)))
        else:
            loss = self.objective(ren.render_views(spp, seed, group.integrator, views))
            dr.backward(loss)
            loss_value = float(loss.array[0])
        opt.step()
        return loss_value, self.objective.last_similarity

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
