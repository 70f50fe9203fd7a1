"""The activation map of one parameter group and its derivatives: Jacobian-vector and vector-Jacobian products.

``f(z)`` is a model's activations (every recorded layer, every view, flattened and concatenated)
of the renders of a scene whose one group is set from latent variables ``z`` (the group's own
parametrisation, :meth:`mrd.groups.base.GroupParam.init`; e.g. the logits of the material values,
the log radiances of the lights, the LargeSteps coordinates of the mesh), everything else held at
the target. It is the path of :mod:`mrd.synthesis.objective`: the group writes its values
(:meth:`~mrd.groups.base.GroupParam.apply`), the renderer renders every view
(:meth:`mrd.render.renderer.Renderer.render_views`), ``dr.wrap`` hands the renders to torch
without host copies, :func:`mrd.render.tonemap.tonemap_torch` tone maps them and
:meth:`mrd.models.LoadedModel.features` runs the model; only the end differs (activations, not
their distance to a target).

Monte Carlo noise: ``f`` is the mean over a fixed list of render seeds (common random numbers), so
``f`` is a deterministic function and :meth:`ActivationMap.jvp` / :meth:`ActivationMap.vjp` are
the exact products of its Jacobian ``J`` (forward-mode AD through Mitsuba and torch, and reverse
mode). The tone map's clip back-propagates exactly (``gradient="clip"``: zero on saturated pixels),
not through the optimiser's surrogate, because the Fisher information is of the images as shown.

Examples
--------
>>> from mrd.render.variant import use_variant
>>> _ = use_variant("llvm_ad_rgb")
>>> from mrd.config import RenderSettings, SceneSpec
>>> from mrd.groups import renderer_for, target_params
>>> from mrd.groups.material import MaterialParam
>>> from mrd.models import ModelSpec, load_model
>>> from mrd.synthesis.target import layout_for
>>> spec = SceneSpec(id="ball")
>>> p = target_params(spec)
>>> ren = renderer_for(layout_for(spec, RenderSettings(resolution=16, views=1, max_depth=2)), p)
>>> model = load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))
>>> op = ActivationMap(ren, MaterialParam(p["material"], ["base_color"]), model, spp=4, seeds=[0])
>>> op.n, op.m, op.names
(3, 1, ['base_color[0]', 'base_color[1]', 'base_color[2]'])
>>> v = np.array([0.0, 1.0, 0.0])
>>> w = np.array([1.0])
>>> bool(abs(op.jvp(v) @ w - v @ op.vjp(w)) < 1e-5)  # <Jv, w> = <v, J^T w>
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

import mrd  # noqa: F401  (libLLVM for Dr.Jit)
from mrd.groups.base import GroupParam, Values
from mrd.render.tonemap import tonemap_torch
from stimuli.errors import MRDError


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(np.asarray(value).shape)


class LatentCodec:
    """Flat float64 vectors <-> a group's Dr.Jit latent variables (the types and shapes of ``param.init()``).

    Attributes
    ----------
    z0 : numpy.ndarray
        ``param.init()`` flattened (keys in their order).
    n : int
    names : list of str
        One name per coordinate, e.g. ``"base_color[1]"``.
    """

    def __init__(self, param: GroupParam) -> None:
        init = param.init()
        self._types = {k: type(v) for k, v in init.items()}
        self._shapes = {k: _shape(v) for k, v in init.items()}
        self._sizes = {k: int(np.prod(s)) for k, s in self._shapes.items()}
        self.z0 = np.concatenate([np.asarray(v, np.float64).ravel() for v in init.values()])
        self.n = int(self.z0.size)
        self.names = [f"{k}[{i}]" if self._sizes[k] > 1 else k for k in init for i in range(self._sizes[k])]

    def latents(self, z: np.ndarray) -> dict[str, Any]:
        """Fresh Dr.Jit latent variables holding ``z``."""
        z = np.asarray(z, np.float64).ravel()
        if z.size != self.n:
            raise MRDError(f"probe: latent vector has {z.size} values, the group's parametrisation {self.n}")
        out, at = {}, 0
        for k, t in self._types.items():
            part = z[at : at + self._sizes[k]].reshape(self._shapes[k]).astype(np.float32)
            at += self._sizes[k]
            out[k] = t(part) if part.ndim else t(float(part))
        return out

    def render(self, param: GroupParam, latents: Mapping[str, Any], renderer: Any, spp: int, seed: int) -> Any:
        """Write ``latents`` through ``param`` into ``renderer`` and render every view (the group's integrator).

        Gradients flow from the renders to any latent with gradients enabled.
        """
        param.apply(latents, renderer)
        renderer.update()
        return renderer.render_views(spp, seed, param.integrator)

    def gradient(self, latents: Mapping[str, Any]) -> np.ndarray:
        """The gradients held by latent variables, flattened like ``z``."""
        import drjit as dr

        return np.concatenate([np.asarray(dr.grad(latents[k]), np.float64).ravel() for k in self._types])


class ActivationMap:
    """``f(z)``: activations of a group's renders as a function of its latent variables (module docstring).

    Parameters
    ----------
    renderer : mrd.render.renderer.Renderer
        Holds the target scene; the group's values are written, and restored by :meth:`restore`.
    param : mrd.groups.base.GroupParam
        The group's parametrisation at the point of interest (its ``init()`` is ``z0``).
    model : mrd.models.LoadedModel
    spp : int
        Samples per pixel of each render.
    seeds : sequence of int
        Render seeds; ``f`` is the mean over them (view ``i`` of seed ``s`` uses ``s + i``).
    exposure : float
        Tone-map exposure in stops.

    Attributes
    ----------
    z0 : numpy.ndarray
        The latent point (flat, float64).
    n, m : int
        Latent and activation dimensions.
    names : list of str
        A name for each latent coordinate, e.g. ``"base_color[1]"``.
    evaluations : int
        Renders made so far (forward, JVP and VJP passes, each seed counted).
    """

    def __init__(
        self, renderer: Any, param: GroupParam, model: Any, *, spp: int, seeds: Sequence[int], exposure: float = 0.0
    ) -> None:  # fmt: skip
        import drjit as dr

        if not seeds:
            raise MRDError("probe: the activation map needs at least one render seed")
        self.renderer, self.param, self.model = renderer, param, model
        self.spp, self.seeds, self.exposure = int(spp), [int(s) for s in seeds], float(exposure)
        self.evaluations = 0
        self.codec = LatentCodec(param)
        self.z0, self.n, self.names = self.codec.z0, self.codec.n, self.codec.names

        @dr.wrap(source="drjit", target="torch")
        def _fn(images: list[torch.Tensor]) -> torch.Tensor:
            x = torch.stack(images).to(self.model.device).permute(0, 3, 1, 2)
            feats = self.model.features(tonemap_torch(x, self.exposure, "clip"))
            return torch.cat([v.reshape(-1) for v in feats.values()]).to(torch.float32)

        self._fn = _fn
        self.m = int(self.features(self.z0).size)

    # -- latents --------------------------------------------------------------------------------
    def latents(self, z: np.ndarray) -> dict[str, Any]:
        """Dr.Jit latent variables holding the flat vector ``z`` (:meth:`LatentCodec.latents`)."""
        return self.codec.latents(z)

    def values(self, z: np.ndarray) -> Values:
        """The group's physical values at latent ``z``."""
        return self.param.values(self.latents(z))

    def restore(self) -> None:
        """Write the group's values at ``z0`` back into the renderer (without gradients)."""
        self.param.apply(self.latents(self.z0), self.renderer)
        self.renderer.update()

    # -- evaluations ----------------------------------------------------------------------------
    def _render(self, latents: Mapping[str, Any], seed: int) -> Any:
        self.evaluations += 1
        return self._fn(self.codec.render(self.param, latents, self.renderer, self.spp, seed))

    def features(self, z: np.ndarray) -> np.ndarray:
        """``f(z)``: flat activations (float64), mean over the seeds, no gradients."""
        import drjit as dr

        acc = np.zeros(0)
        with dr.suspend_grad():
            for s in self.seeds:
                out = np.asarray(self._render(self.latents(z), s), np.float64).ravel()
                acc = out if acc.size == 0 else acc + out
        return acc / len(self.seeds)

    def jvp(self, v: np.ndarray) -> np.ndarray:
        """``J v`` at ``z0`` (forward-mode AD through renderer and model), mean over the seeds."""
        import drjit as dr

        v = np.asarray(v, np.float64).ravel()
        acc = np.zeros(self.m)
        for s in self.seeds:
            lat, tangent = self.latents(self.z0), self.latents(v)
            for k in lat:
                dr.enable_grad(lat[k])
                dr.set_grad(lat[k], tangent[k])
            out = self._render(lat, s)
            dr.enqueue(dr.ADMode.Forward, *lat.values())
            dr.traverse(dr.ADMode.Forward)
            acc += np.asarray(dr.grad(out), np.float64).ravel()
        return acc / len(self.seeds)

    def vjp(self, w: np.ndarray) -> np.ndarray:
        """``J^T w`` at ``z0`` (reverse-mode AD), mean over the seeds."""
        import drjit as dr
        import mitsuba as mi

        w = np.asarray(w, np.float64).ravel()
        if w.size != self.m:
            raise MRDError(f"probe: cotangent has {w.size} values, the activations {self.m}")
        acc = np.zeros(self.n)
        cot = mi.TensorXf(w.astype(np.float32))
        for s in self.seeds:
            lat = self.latents(self.z0)
            for k in lat:
                dr.enable_grad(lat[k])
            out = self._render(lat, s)
            dr.backward(dr.sum(out * cot, axis=None))
            acc += self.codec.gradient(lat)
        return acc / len(self.seeds)

    def jacobian(self) -> np.ndarray:
        """The full Jacobian ``(m, n)`` at ``z0``, one JVP per latent coordinate (small groups only)."""
        return np.stack([self.jvp(e) for e in np.eye(self.n)], axis=1)

    def fisher(self, v: np.ndarray) -> np.ndarray:
        """``J^T J v`` (one JVP and one VJP): the Fisher-information operator, matrix-free."""
        return self.vjp(self.jvp(v))

    def finite_difference(self, v: np.ndarray, h: float) -> np.ndarray:
        """Central difference ``(f(z0 + h v) - f(z0 - h v)) / 2h`` with the same seeds (independent of AD)."""
        v = np.asarray(v, np.float64).ravel()
        return (self.features(self.z0 + h * v) - self.features(self.z0 - h * v)) / (2.0 * h)
