"""Rendering a scene's views: differentiable low-spp renders and high-spp display renders.

One Mitsuba scene holds every camera as its own sensor; view ``i`` is rendered with
``mi.render(..., sensor=i)``. Material and lighting gradients use ``prb``; shape gradients use
``direct_projective`` (``prb_projective`` beyond direct light) with ``sppi=0`` (its default guiding
costs ~40 s per step on a CPU) and films with ``sample_border=True``. The projective integrator's
own sample counts for the continuous (``sppc``) and silhouette (``sppp``) gradient terms hold
because its renders pass a runtime spp of 0 (:func:`render_projective`). Every call takes a seed;
callers pass a new one each step.
Display renders are plain ``prb`` renders at high spp, split into passes so memory stays flat.

Examples
--------
>>> from mrd.render.variant import use_variant
>>> _ = use_variant("llvm_ad_rgb")
>>> from mrd.config import SceneSpec, RenderSettings
>>> from mrd.groups import renderer_for, target_params
>>> from mrd.synthesis.target import layout_for
>>> spec = SceneSpec(id="a")
>>> r = renderer_for(layout_for(spec, RenderSettings(resolution=16, views=2)), target_params(spec))
>>> r.render_display(spp=4, seed=0).shape
(2, 16, 16, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import mrd  # noqa: F401  (libLLVM for Dr.Jit)
from mrd.render.scene import ENV, Layout, env_weights, projective_counts, scene_dict
from stimuli.records import Params

ParamsWriter = Callable[[Any, Params, "tuple[str, ...] | None"], None]


MAX_SAMPLES_PER_PASS = 1 << 22
"""Upper bound on pixel samples per display-render pass (keeps memory flat at any spp)."""


def _seed(seed: int) -> int:
    return int(seed) % (1 << 32)


class Renderer:
    """A Mitsuba scene for one layout whose parameter values can be rewritten.

    Parameters
    ----------
    layout : mrd.scene.Layout
        Cameras, environment and light kinds (fixed).
    params : stimuli.records.Params
        Initial values of every group.
    write_params : callable
        ``write_params(renderer, params, groups)`` writes values through the parameter groups
        (:func:`mrd.groups.write_params`; :func:`mrd.groups.renderer_for` builds a renderer with it).

    Attributes
    ----------
    scene : mitsuba.Scene
    params : mitsuba.SceneParameters
        The traversed parameters (``mi.traverse(scene)``).
    n_views : int
    """

    def __init__(self, layout: Layout, params: Params, write_params: ParamsWriter) -> None:
        import drjit as dr
        import mitsuba as mi

        self.layout = layout
        self.scene = mi.load_dict(scene_dict(layout, params))
        self.params = mi.traverse(self.scene)
        self.n_views = len(layout.views)
        self.integrators = {
            "prb": mi.load_dict({"type": "prb", "max_depth": layout.max_depth}),
            "projective": mi.load_dict(projective_integrator(layout.max_depth, *projective_counts(layout))),
        }
        if layout.environment == "gradient":
            h, w, c = self.params[f"{ENV}.data"].shape
            self._env_shape = (h, w, c)
            self._env_w = mi.Float(np.repeat(env_weights(h), w * c))
            self._env_c = mi.UInt(np.tile(np.arange(c, dtype=np.uint32), h * w))
        self._dr = dr
        self._write_params = write_params
        self.set_params(params)

    # -- writes ------------------------------------------------------------------------------
    def env_data(self, sky: Any, ground: Any) -> Any:
        """Gradient environment-map data from sky and ground colours (differentiable).

        Parameters
        ----------
        sky, ground : mitsuba.Color3f
        """
        import mitsuba as mi

        dr = self._dr
        s = dr.gather(mi.Float, dr.ravel(sky), self._env_c)
        g = dr.gather(mi.Float, dr.ravel(ground), self._env_c)
        return mi.TensorXf(self._env_w * s + (1.0 - self._env_w) * g, self._env_shape)

    def write(self, key: str, value: Any) -> None:
        """Write one Dr.Jit value (Color3f, Float, TensorXf; flat Float for vertices) under a Mitsuba
        parameter key (the groups know their keys); then :meth:`update`."""
        self.params[key] = value

    def update(self) -> None:
        """Propagate written values into the scene (rebuilds acceleration structures as needed)."""
        self.params.update()

    def set_params(self, params: Params, groups: tuple[str, ...] | None = None) -> None:
        """Write exact numpy values of the given groups (all by default), through the groups' writer.

        Parameters
        ----------
        params : stimuli.records.Params
        groups : tuple of str, optional
        """
        self._write_params(self, params, groups)

    # -- rendering ---------------------------------------------------------------------------
    def render_views(
        self, spp: int, seed: int, integrator: str = "prb", views: list[int] | tuple[int, ...] | None = None
    ) -> list[Any]:
        """Render every view, or those in ``views`` (differentiable w.r.t. values written with gradients enabled).

        Parameters
        ----------
        spp : int
            Samples per pixel.
        seed : int
            Seed of the first view; view ``i`` uses ``seed + i``.
        integrator : {"prb", "projective"}
        views : sequence of int, optional
            Indices of the views to render (default: all); view ``i`` keeps its seed ``seed + i``.

        Returns
        -------
        list of mitsuba.TensorXf
            ``(H, W, 3)`` linear radiance per view.
        """
        import mitsuba as mi

        integ = self.integrators[integrator]
        which = range(self.n_views) if views is None else views
        if integrator == "projective":
            return [render_projective(self.scene, self.params, i, spp, _seed(seed + i), integ)
                    for i in which]  # fmt: skip
        return [
            mi.render(self.scene, self.params, sensor=i, spp=spp, seed=_seed(seed + i), integrator=integ)
            for i in which
        ]

    def render_display(self, spp: int, seed: int) -> np.ndarray:
        """High-spp renders of every view, without gradients.

        Returns
        -------
        numpy.ndarray
            ``(V, H, W, 3)`` float32 linear radiance.
        """
        import mitsuba as mi

        w, h = self.layout.size
        per_pass = max(1, min(spp, MAX_SAMPLES_PER_PASS // (w * h)))
        out = np.zeros((self.n_views, h, w, 3), np.float64)
        with self._dr.suspend_grad():
            for i in range(self.n_views):
                done, k = 0, 0
                while done < spp:
                    n = min(per_pass, spp - done)
                    s = _seed(seed * 7919 + i * 104729 + k)
                    img = mi.render(self.scene, sensor=i, spp=n, seed=s, integrator=self.integrators["prb"])
                    out[i] += np.asarray(img, np.float64) * n
                    done, k = done + n, k + 1
        return (out / spp).astype(np.float32)


def render_projective(scene: Any, params: Any, sensor: int, spp: int, seed: int, integrator: Any) -> Any:
    """A differentiable render with a projective integrator whose own gradient sample counts hold.

    Mitsuba 3.9 lets a non-zero runtime ``spp`` (and ``spp_grad``, which copies it) of ``mi.render``
    override the integrator's ``sppc``, ``sppp`` and ``sppi``; only an explicit 0 in the integrator
    survives. So the primal sample count goes to the sensor's sampler and ``mi.render`` gets
    ``spp = spp_grad = 0``: the primal image is rendered with ``spp`` samples exactly as before,
    and the backward pass uses the integrator's ``sppc`` / ``sppp`` (or ``spp`` where unset).

    Parameters
    ----------
    scene : mitsuba.Scene
    params : mitsuba.SceneParameters
    sensor : int
        Sensor index.
    spp : int
        Samples per pixel of the primal image.
    seed : int
    integrator : mitsuba.Integrator
        A ``direct_projective`` or ``prb_projective`` integrator.

    Returns
    -------
    mitsuba.TensorXf
        ``(H, W, 3)`` linear radiance.

    Examples
    --------
    >>> from mrd.render.variant import use_variant
    >>> _ = use_variant("llvm_ad_rgb")
    >>> import mitsuba as mi
    >>> from mrd.config import SceneSpec, RenderSettings
    >>> from mrd.groups import renderer_for, target_params
    >>> from mrd.synthesis.target import layout_for
    >>> r = renderer_for(layout_for(SceneSpec(id="a"), RenderSettings(resolution=8, views=1, max_depth=2)),
    ...                  target_params(SceneSpec(id="a")))
    >>> integ = mi.load_dict(projective_integrator(2, sppc=4, sppp=1))
    >>> render_projective(r.scene, r.params, 0, 2, 0, integ).shape
    (8, 8, 3)
    """
    import mitsuba as mi

    scene.sensors()[sensor].sampler().set_sample_count(int(spp))
    return mi.render(scene, params, sensor=sensor, spp=0, spp_grad=0, seed=seed, integrator=integrator)


def projective_integrator(max_depth: int, sppi: int = 0, sppc: int = 0, sppp: int = 0) -> dict[str, Any]:
    """The shape-gradient integrator whose light transport matches the display renders' ``max_depth``.

    ``max_depth = 2`` (direct light only) is ``direct_projective``; deeper paths use
    ``prb_projective`` with the same ``max_depth``, so a shape is optimised under the transport it is
    shown with. ``sppi = 0`` turns off guiding (its default costs ~40 s per step on a CPU).
    ``sppc`` and ``sppp`` are the samples per pixel of the continuous and the primarily visible
    silhouette gradient terms (0: the render's spp); they take effect through
    :func:`render_projective`.

    Examples
    --------
    >>> projective_integrator(2)["type"], projective_integrator(3)["type"]
    ('direct_projective', 'prb_projective')
    >>> projective_integrator(2, sppc=32, sppp=4)
    {'type': 'direct_projective', 'sppi': 0, 'sppc': 32, 'sppp': 4}
    """
    d: dict[str, Any] = {"type": "direct_projective"} if max_depth <= 2 else {"type": "prb_projective",
                                                                               "max_depth": max_depth}
    d["sppi"] = sppi
    d.update({k: v for k, v in (("sppc", sppc), ("sppp", sppp)) if v > 0})
    return d


def to_drjit(value: np.ndarray) -> Any:
    """A numpy value as the Dr.Jit type its scene parameter holds.

    ``(3,)`` -> ``Color3f``; scalar -> ``Float``; ``(H, W, 3)`` -> ``TensorXf``.
    """
    import mitsuba as mi

    v = np.asarray(value, np.float32)
    if v.ndim == 0 or v.size == 1:
        return mi.Float(float(v.reshape(-1)[0]))
    if v.shape == (3,):
        return mi.Color3f(float(v[0]), float(v[1]), float(v[2]))
    return mi.TensorXf(v)
