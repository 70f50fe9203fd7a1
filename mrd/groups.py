"""Parametrisations of the three parameter groups for gradient descent.

Each group maps unconstrained *latent* Dr.Jit variables (what Adam updates) to physical values
written into the :class:`mrd.render.Renderer`:

* ``material``: BSDF values in their valid ranges through a scaled logistic,
  ``v = lo + (hi - lo) * sigmoid(z)`` (hard clipping stalls optimisation at the bounds);
* ``lighting``: radiances through ``v = exp(z)`` (positive; steps are relative);
* ``shape``: vertex positions through Mitsuba's LargeSteps parametrisation ``u = (I + lambda L) v``
  (Nicolet et al. 2021; needs ``cholespy``), optionally remeshed with ``gpytoolbox``'s Botsch
  remeshing, which changes the vertex count (the optimiser state is then reset).

Only the varied group is written during optimisation, so every other group keeps exactly the
values the renderer was given (the target's).

Examples
--------
>>> import numpy as np
>>> from mrd.variant import use_variant
>>> _ = use_variant("llvm_ad_rgb")
>>> g = MaterialGroup({"base_color": np.array([0.2, 0.5, 0.9], np.float32), "roughness": np.float32(0.3),
...                    "metallic": np.float32(0.0), "specular": np.float32(0.5)})
>>> g.values(g.init())["base_color"].astype(float).round(4).tolist()
[0.2, 0.5, 0.9]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import mrd  # noqa: F401  (libLLVM for Dr.Jit)
from mrd.render import Renderer, to_drjit

RANGES: dict[str, tuple[float, float]] = {
    "base_color": (0.0, 1.0),
    "roughness": (0.01, 1.0),
    "metallic": (0.0, 1.0),
    "specular": (0.0, 1.0),
}
"""Valid range of each material value (the logistic maps onto it)."""

_EPS = 1e-4
MIN_RADIANCE = 1e-4


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), _EPS, 1.0 - _EPS)
    return np.log(p / (1.0 - p)).astype(np.float32)


def _numpy(value: Any, like: np.ndarray) -> np.ndarray:
    return np.asarray(value, np.float32).reshape(np.shape(like))


class GroupParam:
    """Base class: a parametrisation of one group, built from the group's start values.

    Attributes
    ----------
    name : str
        ``"shape"``, ``"material"`` or ``"lighting"``.
    uniform : bool
        Whether Adam should use a uniform (scalar) second-moment estimate (LargeSteps does).
    integrator : str
        Renderer integrator for gradients (``"prb"`` or ``"projective"``).
    """

    name = ""
    uniform = False
    integrator = "prb"

    def init(self) -> dict[str, Any]:
        """Initial latent variables (Dr.Jit arrays), keyed by name."""
        raise NotImplementedError

    def apply(self, latents: Mapping[str, Any], renderer: Renderer) -> None:
        """Write the physical values of ``latents`` into ``renderer`` (differentiably; no update)."""
        raise NotImplementedError

    def values(self, latents: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Physical values (numpy) of every value in the group, varied or not."""
        raise NotImplementedError


class MaterialGroup(GroupParam):
    """Principled-BSDF values through a scaled logistic.

    Parameters
    ----------
    start : dict
        Start values (``base_color`` (3,) or texture (H, W, 3), ``roughness``, ``metallic``, ``specular``).
    vary : sequence of str, optional
        Names optimised (default all); the others keep their start values.
    """

    name = "material"

    def __init__(
        self, start: Mapping[str, np.ndarray], vary: tuple[str, ...] | list[str] | None = None
    ) -> None:
        self.start = {k: np.asarray(v, np.float32) for k, v in start.items()}
        self.vary = [k for k in self.start if vary is None or k in vary]

    def init(self) -> dict[str, Any]:
        out = {}
        for k in self.vary:
            lo, hi = RANGES[k]
            out[k] = to_drjit(_logit((self.start[k] - lo) / (hi - lo)))
        return out

    def _physical(self, k: str, z: Any) -> Any:
        import drjit as dr

        lo, hi = RANGES[k]
        return lo + (hi - lo) * dr.rcp(1.0 + dr.exp(-z))

    def apply(self, latents: Mapping[str, Any], renderer: Renderer) -> None:
        for k in self.vary:
            renderer.write("material", k, self._physical(k, latents[k]))

    def values(self, latents: Mapping[str, Any]) -> dict[str, np.ndarray]:
        out = {k: v.copy() for k, v in self.start.items()}
        for k in self.vary:
            out[k] = _numpy(self._physical(k, latents[k]), self.start[k])
        return out


class LightingGroup(GroupParam):
    """Environment and light radiances through ``exp``.

    Parameters
    ----------
    start : dict
        Start values: ``radiance`` or ``sky``/``ground``, and ``light_intensity`` (if there is a light).
    vary : sequence of {"environment", "light"}, optional
        Parts optimised (default both); the others keep their start values.
    """

    name = "lighting"

    def __init__(
        self, start: Mapping[str, np.ndarray], vary: tuple[str, ...] | list[str] | None = None
    ) -> None:
        self.start = {k: np.asarray(v, np.float32) for k, v in start.items()}
        parts = {
            "radiance": "environment",
            "sky": "environment",
            "ground": "environment",
            "light_intensity": "light",
        }
        self.vary = [k for k in self.start if vary is None or parts[k] in vary]

    def init(self) -> dict[str, Any]:
        return {k: to_drjit(np.log(np.maximum(self.start[k], MIN_RADIANCE))) for k in self.vary}

    def apply(self, latents: Mapping[str, Any], renderer: Renderer) -> None:
        import drjit as dr

        phys = {k: dr.exp(latents[k]) for k in self.vary}
        for k, v in phys.items():
            if k not in ("sky", "ground"):
                renderer.write("lighting", k, v)
        if "sky" in phys or "ground" in phys:
            sky = phys.get("sky", to_drjit(self.start["sky"]))
            ground = phys.get("ground", to_drjit(self.start["ground"]))
            renderer.write("lighting", "sky", renderer.env_data(sky, ground))

    def values(self, latents: Mapping[str, Any]) -> dict[str, np.ndarray]:
        import drjit as dr

        out = {k: v.copy() for k, v in self.start.items()}
        for k in self.vary:
            out[k] = _numpy(dr.exp(latents[k]), self.start[k])
        return out


class ShapeGroup(GroupParam):
    """Vertex positions through LargeSteps, with optional Botsch remeshing.

    Parameters
    ----------
    start : dict
        ``vertices`` (N, 3), ``faces`` (F, 3), ``uv`` (N, 2).
    lambda_ : float
        LargeSteps smoothness (larger diffuses gradients further; grow it with tessellation).
    remesh_edge_scale : float
        Remeshing target edge length relative to the current mean edge length.
    """

    name = "shape"
    uniform = True
    integrator = "projective"

    def __init__(
        self, start: Mapping[str, np.ndarray], lambda_: float = 19.0, remesh_edge_scale: float = 1.0
    ) -> None:
        self.faces = np.asarray(start["faces"], np.int32).copy()
        self.uv = np.asarray(start["uv"], np.float32).copy()
        self.start_vertices = np.asarray(start["vertices"], np.float32).copy()
        self.lambda_ = float(lambda_)
        self.remesh_edge_scale = float(remesh_edge_scale)
        self.remeshes = 0
        self._build(self.start_vertices)

    def _build(self, vertices: np.ndarray) -> None:
        import mitsuba as mi

        self._v0 = mi.Float(np.asarray(vertices, np.float32).ravel())
        self.largesteps = mi.ad.LargeSteps(
            self._v0, mi.UInt(self.faces.astype(np.uint32).ravel()), self.lambda_
        )

    def init(self) -> dict[str, Any]:
        return {"u": self.largesteps.to_differential(self._v0)}

    def apply(self, latents: Mapping[str, Any], renderer: Renderer) -> None:
        renderer.write("shape", "vertices", self.largesteps.from_differential(latents["u"]))

    def vertices(self, latents: Mapping[str, Any]) -> np.ndarray:
        """Current vertex positions ``(N, 3)``."""
        import drjit as dr

        with dr.suspend_grad():
            v = self.largesteps.from_differential(latents["u"])
        return np.asarray(v, np.float32).reshape(-1, 3)

    def values(self, latents: Mapping[str, Any]) -> dict[str, np.ndarray]:
        return {"vertices": self.vertices(latents), "faces": self.faces.copy(), "uv": self.uv.copy()}

    def remesh(self, latents: Mapping[str, Any], renderer: Renderer) -> dict[str, Any]:
        """Remesh the current surface (Botsch-Kobbelt), write it to ``renderer``, return new latents.

        UV coordinates move to the new vertices from their nearest old vertex.
        """
        import gpytoolbox
        from scipy.spatial import cKDTree

        from mrd.meshes import Mesh

        v = self.vertices(latents).astype(np.float64)
        h = Mesh(v, self.faces).edge_length() * self.remesh_edge_scale
        nv, nf = gpytoolbox.remesh_botsch(v, self.faces.astype(np.int32), i=5, h=h, project=True)
        _, nearest = cKDTree(v).query(nv)
        self.uv = self.uv[nearest]
        self.faces = np.asarray(nf, np.int32)
        nv = np.asarray(nv, np.float32)
        renderer.set_params({"shape": {"vertices": nv, "faces": self.faces, "uv": self.uv}})
        self._build(nv)
        self.remeshes += 1
        return self.init()


def make_group(
    group: str,
    start: Mapping[str, np.ndarray],
    *,
    vary_material: list[str] | None = None,
    vary_lighting: list[str] | None = None,
    lambda_: float = 19.0,
    remesh_edge_scale: float = 1.0,
) -> GroupParam:
    """The parametrisation of ``group`` starting from ``start`` values.

    Examples
    --------
    >>> from mrd.meshes import icosphere
    >>> from mrd.scene import shape_values
    >>> make_group("shape", shape_values(icosphere(1))).integrator
    'projective'
    """
    if group == "material":
        return MaterialGroup(start, vary_material)
    if group == "lighting":
        return LightingGroup(start, vary_lighting)
    if group == "shape":
        return ShapeGroup(start, lambda_, remesh_edge_scale)
    raise ValueError(f"unknown group {group!r}; expected shape, material or lighting")
