"""Gradient descent of one parameter group until a model's activations match a target's.

Each step renders every view at low spp with a new seed (Dr.Jit), hands the renders to torch
through ``dr.wrap`` (no host copies), tone maps them differentiably, computes the activation
distance to the target (mean over views and layers), and back-propagates through the model and
the renderer into the group's latent variables, which Adam (``mi.ad.Adam``; uniform for
LargeSteps) updates with the group's learning rate.

Stopping: the step limit; a convergence window (the mean loss of the last ``W`` steps improved
on the ``W`` before by less than ``tol``, relatively); or success (the step's similarity
went a set fraction of the way from the null reference's maximum to the noise ceiling, the
similarity the target scene itself reaches under the same render noise).

Examples
--------
>>> StopRule(steps=10).check([1.0] * 10, [0.5] * 10, null_max=None)
'max_steps'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

import mrd  # noqa: F401  (libLLVM for Dr.Jit)
from mrd.groups import GroupParam, ShapeGroup
from mrd.render import Renderer
from mrd.similarity import activation_distance, layer_similarity
from mrd.tonemap import tonemap_torch

StepCallback = Callable[[int, float, float], None]


class Objective:
    """Activation distance of rendered views to fixed target activations, as a Dr.Jit function.

    Parameters
    ----------
    model : mrd.models.LoadedModel
    target : dict of str to torch.Tensor
        Target activations ``{layer: (V, ...)}`` (view ``v`` matches view ``v``), no gradient.
    kind : {"rel_l2", "cosine"}
    exposure : float
        Tone-map exposure in stops.

    Attributes
    ----------
    last_similarity : float
        Mean cosine similarity (views x layers) of the last evaluation.
    """

    def __init__(
        self, model: Any, target: Mapping[str, torch.Tensor], kind: str = "rel_l2", exposure: float = 0.0
    ) -> None:
        import drjit as dr

        self.model, self.kind, self.exposure = model, kind, exposure
        self.target = {k: v.detach() for k, v in target.items()}
        self.last_similarity = float("nan")

        @dr.wrap(source="drjit", target="torch")
        def _fn(images: list[torch.Tensor]) -> torch.Tensor:
            x = torch.stack(images).to(self.model.device).permute(0, 3, 1, 2)
            feats = self.model.features(tonemap_torch(x, self.exposure))
            cos, _ = layer_similarity({k: v.detach() for k, v in feats.items()}, self.target)
            self.last_similarity = float(cos.mean())
            return activation_distance(feats, self.target, kind=self.kind).reshape(1)

        self._fn = _fn

    def __call__(self, images: list[Any]) -> Any:
        """Loss (a 1-element Dr.Jit tensor, differentiable) of a list of ``(H, W, 3)`` renders."""
        return self._fn(images)

    def similarity(self, feats: Mapping[str, torch.Tensor]) -> float:
        """Mean cosine similarity (views x layers) of activations to the target."""
        cos, _ = layer_similarity(feats, self.target)
        return float(cos.mean())


def mean_features(
    renderer: Renderer,
    model: Any,
    *,
    spp: int,
    seed: int,
    integrator: str = "prb",
    exposure: float = 0.0,
    n: int = 1,
) -> dict[str, torch.Tensor]:
    """Activations of the renderer's current scene, averaged over ``n`` renders with seeds ``seed + i * V``.

    The optimisation target is the mean activation of *noisy* target renders at the optimisation
    spp: a noise-free target would reward images whose noise-laden activations happen to resemble
    it, which biases the optimum (measured: base colour ran away from the target's).

    Returns
    -------
    dict of str to torch.Tensor
        ``{layer: (V, ...)}``, no gradient.
    """
    acc: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for i in range(n):
            images = renderer.render_views(spp, seed + i * renderer.n_views, integrator)
            x = torch.stack([img.torch() for img in images]).to(model.device).permute(0, 3, 1, 2)
            for k, v in model.features(tonemap_torch(x, exposure)).items():
                acc[k] = acc[k] + v / n if k in acc else v / n
    return acc


def noise_ceiling(
    renderer: Renderer,
    objective: Objective,
    *,
    spp: int,
    seed: int,
    integrator: str = "prb",
    n: int = 4,
) -> float:
    """Mean similarity to the objective's target of ``n`` fresh single renders of the renderer's scene.

    With the target scene loaded this is the best a step can expect under render noise at ``spp``
    (a metamer's step similarity hovers around it, not around 1).

    Returns
    -------
    float

    Examples
    --------
    >>> from mrd.config import RenderSettings, SceneSpec
    >>> from mrd.models import DEFAULT_LAYERS, ModelSpec, load_model
    >>> from mrd.scene import layout_for, target_params
    >>> from mrd.variant import use_variant
    >>> _ = use_variant("llvm_ad_rgb")
    >>> from mrd.render import Renderer
    >>> spec = SceneSpec(id="ball")
    >>> ren = Renderer(layout_for(spec, RenderSettings(resolution=32, views=1, max_depth=2)), target_params(spec))
    >>> model = load_model(ModelSpec(name="mobilenetv2_100", layers=DEFAULT_LAYERS["mobilenetv2_100"]))
    >>> objective = Objective(model, mean_features(ren, model, spp=4, seed=1, n=4))
    >>> 0.5 < noise_ceiling(ren, objective, spp=4, seed=99) < 1.0
    True
    """
    sims = []
    for i in range(n):
        feats = mean_features(renderer, objective.model, spp=spp, seed=seed + i * renderer.n_views,
                              integrator=integrator, exposure=objective.exposure)  # fmt: skip
        sims.append(objective.similarity(feats))
    return float(np.mean(sims))


@dataclass
class StopRule:
    """When to stop (see the module docstring)."""

    steps: int
    window: int = 0
    tol: float = 1e-3
    stop_on_success: bool = False
    fraction: float = 0.0
    success_window: int = 5

    def threshold(self, null_max: float, ceiling: float | None = None) -> float:
        """Similarity that counts as success: ``null_max + fraction * (ceiling - null_max)``.

        ``ceiling`` is the similarity of fresh renders of the target itself at the optimisation
        spp (render noise keeps it below 1); without one, 1 is used. When the null draws reach the
        ceiling (the model barely sees the group), the threshold is ``null_max``.

        Examples
        --------
        >>> round(StopRule(steps=1, fraction=0.25).threshold(0.80, 0.92), 4)
        0.83
        >>> StopRule(steps=1, fraction=0.25).threshold(0.95, 0.93)
        0.95
        """
        top = 1.0 if ceiling is None or not np.isfinite(ceiling) else float(ceiling)
        return float(null_max + self.fraction * max(0.0, top - null_max))

    def check(
        self, losses: list[float], sims: list[float], null_max: float | None, ceiling: float | None = None
    ) -> str | None:
        """Stop reason after the latest step, or None to go on.

        Success needs the mean similarity of the last ``success_window`` steps (step renders are
        noisy) to reach :meth:`threshold` and to exceed ``null_max``.
        """
        n = self.success_window
        if self.stop_on_success and null_max is not None and np.isfinite(null_max) and len(sims) >= n:
            recent = float(np.mean(sims[-n:]))
            if recent >= self.threshold(null_max, ceiling) and recent > null_max:
                return "success"
        w = self.window
        if w > 0 and len(losses) >= 2 * w:
            recent, before = float(np.mean(losses[-w:])), float(np.mean(losses[-2 * w : -w]))
            if before - recent <= self.tol * abs(before):
                return "converged"
        if len(losses) >= self.steps:
            return "max_steps"
        return None


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


def optimize(
    renderer: Renderer,
    group: GroupParam,
    objective: Objective,
    *,
    lr: float,
    spp: int,
    seed: int,
    rule: StopRule,
    null_max: float | None = None,
    ceiling: float | None = None,
    remesh_every: int = 0,
    on_step: StepCallback | None = None,
) -> OptResult:
    """Optimise ``group`` (already written into ``renderer`` at its start values).

    Parameters
    ----------
    renderer : Renderer
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
        Noise ceiling: mean similarity of fresh target renders (:func:`noise_ceiling`).
    remesh_every : int
        Shape only: remesh every this many steps (0: never).
    on_step : callable, optional
        ``on_step(step, loss, similarity)`` after each step.

    Returns
    -------
    OptResult
    """
    import drjit as dr
    import mitsuba as mi

    latents = group.init()
    opt = mi.ad.Adam(lr=lr, uniform=group.uniform)
    for k, v in latents.items():
        opt[k] = v
    initial = group.values(opt)
    losses: list[float] = []
    sims: list[float] = []
    reason = "max_steps"
    t0 = time.perf_counter()
    for step in range(rule.steps):
        group.apply(opt, renderer)
        renderer.update()
        images = renderer.render_views(spp, seed + step * renderer.n_views, group.integrator)
        loss = objective(images)
        dr.backward(loss)
        opt.step()
        losses.append(float(loss.array[0]))
        sims.append(objective.last_similarity)
        if on_step is not None:
            on_step(step, losses[-1], sims[-1])
        stop = "diverged" if not np.isfinite(losses[-1]) else rule.check(losses, sims, null_max, ceiling)
        if stop is not None:
            reason = stop
            break
        if isinstance(group, ShapeGroup) and remesh_every > 0 and (step + 1) % remesh_every == 0:
            new = group.remesh(opt, renderer)
            for k, v in new.items():
                opt[k] = v
                opt.reset(k)
    final = group.values(opt)
    info: dict[str, Any] = {
        "stop_reason": reason,
        "lr": lr,
        "spp": spp,
        "adam_uniform": group.uniform,
        "integrator": group.integrator,
    }
    if null_max is not None:
        info["success_threshold"] = rule.threshold(null_max, ceiling)
    if isinstance(group, ShapeGroup):
        info.update(remeshes=group.remeshes, largesteps_lambda=group.lambda_)
    return OptResult(
        initial,
        final,
        np.asarray(losses, np.float64),
        np.asarray(sims, np.float64),
        len(losses),
        time.perf_counter() - t0,
        reason,
        info,
    )
