"""MAD competition in scene space: change one group to push model A's distance while model B's is held.

Wang & Simoncelli's (2008) maximum differentiation, with the physical scene as the search space:
from a start scene (the target with one group moved a small physical step), the group's latent
variables ``z`` are moved to maximise (or minimise) model A's activation distance to the target,
``d_A(z)``, on the level set ``d_B(z) = d_B(z_start)`` of model B. Each iteration

1. takes a step of latent length ``lr`` along ``±grad d_A`` projected orthogonally to ``grad d_B``;
2. returns to the level set with Newton steps along ``grad d_B``
   (``z -= (d_B(z) - b0) grad d_B / ||grad d_B||^2``) until ``|d_B - b0| <= hold * b0 / 4``;
3. accepts the step if ``d_A`` improved and ``d_B`` is held, else halves ``lr`` and retries.

Distances are the objective of metamer synthesis (:class:`mrd.synthesis.objective.Objective`:
``rel_l2`` or ``1 - cosine`` of the activations, mean over views and layers) against target
activations rendered with the same seeds (common random numbers: ``d(z0) = 0`` exactly and ``d``
is a smooth deterministic function of ``z``).

Examples
--------
>>> class Quad:  # d_A = |z|^2 along x, d_B = |z|^2 along y
...     def __init__(self, i): self.i = i
...     def value_and_grad(self, z):
...         g = np.zeros(2); g[self.i] = 2 * z[self.i]
...         return float(z[self.i] ** 2), g
>>> r = maximal_differentiation(Quad(0), Quad(1), np.array([0.1, 0.2]), steps=20, lr=0.1)
>>> round(r.b[-1] / r.b[0], 6), bool(r.a[-1] > 9 * r.a[0])
(1.0, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mrd.probes.operator import LatentCodec
from stimuli.errors import MRDError


class ModelDistance:
    """``d(z)``: a model's activation distance to the target, as a function of a group's latents.

    Parameters
    ----------
    renderer : mrd.render.renderer.Renderer
        At the target scene (the group's values are rewritten by every evaluation).
    param : mrd.groups.base.GroupParam
        The group's parametrisation at the target (``init()`` is the target's latent point).
    model : mrd.models.LoadedModel
    spp : int
    seeds : sequence of int
        Render seeds; ``d`` is the mean over them, each against target activations of the same seed.
    kind : {"rel_l2", "cosine"}
    exposure : float

    Examples
    --------
    >>> from mrd.render.variant import use_variant
    >>> _ = use_variant("llvm_ad_rgb")
    >>> from mrd.config import RenderSettings, SceneSpec
    >>> from mrd.groups import renderer_for, target_params
    >>> from mrd.groups.material import MaterialParam
    >>> from mrd.models import ModelSpec, load_model
    >>> from mrd.synthesis.target import layout_for
    >>> p = target_params(SceneSpec(id="ball"))
    >>> ren = renderer_for(layout_for(SceneSpec(id="ball"), RenderSettings(resolution=16, views=1, max_depth=2)), p)
    >>> lum = load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))
    >>> d = ModelDistance(ren, MaterialParam(p["material"], ["base_color"]), lum, spp=4, seeds=[3])
    >>> d.value(d.codec.z0), bool(d.value(d.codec.z0 + 0.3) > 0.01)
    (0.0, True)
    """

    def __init__(
        self, renderer: Any, param: Any, model: Any, *, spp: int, seeds: Sequence[int], kind: str = "rel_l2",
        exposure: float = 0.0,
    ) -> None:  # fmt: skip
        from mrd.synthesis.objective import Objective, mean_features

        if not seeds:
            raise MRDError("probe: a model distance needs at least one render seed")
        self.renderer, self.param, self.model = renderer, param, model
        self.spp, self.seeds = int(spp), [int(s) for s in seeds]
        self.codec = LatentCodec(param)
        self.evaluations = 0
        self._restore()
        kw = {"spp": self.spp, "integrator": param.integrator, "exposure": exposure}
        self.objectives = [Objective(model, mean_features(renderer, model, seed=s, **kw), kind=kind, exposure=exposure)
                           for s in self.seeds]  # fmt: skip
        for o in self.objectives:
            o.clip_gradient = "clip"  # the exact gradient: d is a function of the images as shown

    def _restore(self) -> None:
        self.param.apply(self.codec.latents(self.codec.z0), self.renderer)
        self.renderer.update()

    def value_and_grad(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        """``(d(z), grad d(z))`` by reverse-mode AD through renderer and model."""
        import drjit as dr

        total, grad = 0.0, np.zeros(self.codec.n)
        for s, obj in zip(self.seeds, self.objectives, strict=True):
            lat = self.codec.latents(z)
            for v in lat.values():
                dr.enable_grad(v)
            loss = obj(self.codec.render(self.param, lat, self.renderer, self.spp, s))
            self.evaluations += 1
            total += float(np.asarray(loss).ravel()[0])
            dr.backward(loss)
            grad += self.codec.gradient(lat)
        return total / len(self.seeds), grad / len(self.seeds)

    def value(self, z: np.ndarray) -> float:
        """``d(z)`` without gradients."""
        import drjit as dr

        total = 0.0
        with dr.suspend_grad():
            for s, obj in zip(self.seeds, self.objectives, strict=True):
                images = self.codec.render(self.param, self.codec.latents(z), self.renderer, self.spp, s)
                total += float(np.asarray(obj(images)).ravel()[0])
                self.evaluations += 1
        return total / len(self.seeds)


@dataclass
class MadResult:
    """Trajectory of one MAD search.

    Attributes
    ----------
    z : numpy.ndarray
        Final latent point.
    a, b : list of float
        Model A's and model B's distance at the start and after every accepted iteration.
    direction : int
        +1 maximised A, -1 minimised it.
    iterations : int
        Iterations tried (accepted or not).
    held : bool
        ``|b[-1] / b[0] - 1| <= hold``.
    """

    z: np.ndarray
    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)
    direction: int = 1
    iterations: int = 0
    held: bool = True

    @property
    def growth(self) -> float:
        """``a[-1] / a[0]``."""
        return float(self.a[-1] / self.a[0]) if self.a and self.a[0] > 0 else float("nan")

    @property
    def hold_error(self) -> float:
        """``|b[-1] / b[0] - 1|``."""
        return float(abs(self.b[-1] / self.b[0] - 1.0)) if self.b and self.b[0] > 0 else float("nan")


def _project(z: np.ndarray, dist_b: Any, b0: float, tol: float, newton: int) -> tuple[np.ndarray, float, np.ndarray, bool]:
    """Newton steps along ``grad d_B`` back onto ``d_B = b0``: ``(z, d_B, grad d_B, on the level set)``."""
    b, g = dist_b.value_and_grad(z)
    for _ in range(newton):
        if abs(b - b0) <= tol * b0:
            return z, b, g, True
        gg = float(g @ g)
        if gg <= 0:
            break
        z = z - (b - b0) / gg * g
        b, g = dist_b.value_and_grad(z)
    return z, b, g, abs(b - b0) <= tol * b0


def maximal_differentiation(
    dist_a: Any, dist_b: Any, z_start: np.ndarray, *, direction: int = 1, steps: int = 20, lr: float = 0.3,
    hold: float = 0.05, newton: int = 4, min_lr: float = 1e-3, progress: Any = None,
) -> MadResult:  # fmt: skip
    """Maximise (``direction=+1``) or minimise (``-1``) ``d_A`` on the level set of ``d_B`` through ``z_start``.

    Parameters
    ----------
    dist_a, dist_b : ModelDistance
        Anything with ``value_and_grad(z) -> (float, ndarray)``.
    z_start : numpy.ndarray
        Start latent point (``d_B(z_start) > 0``).
    direction : {1, -1}
    steps : int
        Iterations.
    lr : float
        Initial latent step length (halved on a rejected step, never grown).
    hold : float
        Relative tolerance of ``d_B``; Newton corrections aim at a quarter of it.
    newton : int
        Newton corrections per iteration.
    min_lr : float
        Stop when the step length falls below this.
    progress : callable, optional
        Called after each iteration with ``(a, b)``.

    Returns
    -------
    MadResult
    """
    if direction not in (1, -1):
        raise MRDError(f"probe: MAD direction must be +1 or -1, got {direction}")
    z = np.asarray(z_start, np.float64).copy()
    a, ga = dist_a.value_and_grad(z)
    b0, gb = dist_b.value_and_grad(z)
    if not b0 > 0:
        raise MRDError("probe: MAD start has model B distance 0 (start at the target); give a start step > 0")
    res = MadResult(z.copy(), [a], [b0], direction)
    step = float(lr)
    for _ in range(int(steps)):
        res.iterations += 1
        p = ga - (ga @ gb) / max(float(gb @ gb), 1e-300) * gb
        norm = float(np.linalg.norm(p))
        if norm <= 0 or step < min_lr:
            break
        cand, b, gb_new, ok = _project(z + direction * step * p / norm, dist_b, b0, hold / 4, newton)
        a_new, ga_new = dist_a.value_and_grad(cand) if ok else (a, ga)
        if ok and direction * (a_new - a) > 0:
            z, a, ga, gb = cand, a_new, ga_new, gb_new
            res.a.append(a)
            res.b.append(b)
        else:
            step *= 0.5
        if progress is not None:
            progress(res.a[-1], res.b[-1])
    res.z = z
    res.held = bool(res.hold_error <= hold)
    return res
