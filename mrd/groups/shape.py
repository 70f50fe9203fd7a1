"""The ``shape`` group: the object's mesh (vertex positions; faces and UVs follow remeshing).

* values: ``vertices`` (N, 3) float32, ``faces`` (F, 3) int32, ``uv`` (N, 2) float32;
* target: a procedural mesh (icosphere, harmonic, superquadric, torus) or a mesh file;
* prior: a harmonic deformed sphere with coefficients uniform in ``[-a, a] / degree``
  (``[prior.shape]``);
* parametrisation: vertex positions through Mitsuba's LargeSteps ``u = (I + lambda L) v``
  (Nicolet et al. 2021), rendered with ``direct_projective``; optional Botsch-Kobbelt remeshing
  every ``remesh_every`` steps and after the steps in ``remesh_at`` (after-step hook; Adam restarts on
  the new vertices, its rate times ``remesh_lr_factor``);
* distances: symmetric Chamfer distance and F-score at 1 % of the target's bounding-box diagonal.

Examples
--------
>>> from mrd.render.meshes import icosphere
>>> d = shape_distance(shape_values(icosphere(2)), shape_values(icosphere(2)))
>>> bool(d["chamfer"] < 0.02), bool(d["fscore"] > 0.99)  # point samples of the same surface
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from mrd.groups.base import GroupParam, ParameterGroup, Params, Values
from mrd.render import meshes
from mrd.render.scene import OBJECT
from mrd.specbase import Integer, Number, StrictModel, Text

FSCORE_FRACTION = 0.01
"""F-score threshold as a fraction of the target's bounding-box diagonal."""
KEYS = {"vertices": f"{OBJECT}.vertex_positions", "faces": f"{OBJECT}.faces", "uv": f"{OBJECT}.vertex_texcoords"}
"""Mitsuba parameter key of each shape value."""


class ShapeSpec(StrictModel):
    """An object: a procedural mesh or a mesh file (.ply/.obj), centred and scaled to radius ``scale``."""

    kind: Literal["icosphere", "harmonic", "superquadric", "torus", "file"] = "harmonic"
    subdivisions: Integer(ge=0, le=6) = Field(3, description="icosphere subdivision level of sphere-like meshes")
    scale: Number(gt=0, le=1e3) = Field(1.0, description="radius of the bounding sphere")
    coefficients: list[Number(ge=-100, le=100)] | None = Field(
        None,
        description="harmonic: real spherical-harmonic coefficients of degrees 1..degree ((degree+1)^2-1)",
    )
    degree: Integer(ge=1, le=8) = Field(3, description="harmonic: highest degree")
    amplitude: Number(ge=0, le=1) = Field(0.25, description="harmonic: spread of coefficients drawn from `seed`")
    seed: Integer(ge=0, le=2**63 - 1) = Field(0, description="harmonic: seed of the coefficients when `coefficients` is not given")
    exponent: Number(gt=0.05, le=4) = Field(
        0.5, description="superquadric: shape exponent (<1 boxy, 1 sphere, >1 pinched)"
    )
    axes: list[Number(gt=0, le=1e3)] = Field([1.0, 1.0, 1.0], min_length=3, max_length=3)
    minor_radius: Number(gt=0, lt=1) = Field(0.35, description="torus: tube radius relative to the major radius")
    segments: Integer(ge=8, le=512) = Field(48, description="torus: segments around the ring")
    path: Text(4096) | None = Field(None, description="file: path of a .ply or .obj mesh (relative to the config file)")

    @model_validator(mode="after")
    def _kind_fields(self) -> ShapeSpec:
        if self.kind == "file" and not self.path:
            raise ValueError("kind 'file' needs `path` (a .ply or .obj file)")
        if self.kind == "file" and Path(self.path).suffix.lower() not in (".ply", ".obj"):
            raise ValueError(f"path {self.path!r} must end in .ply or .obj")
        if self.coefficients is not None and len(self.coefficients) != (self.degree + 1) ** 2 - 1:
            raise ValueError(
                f"coefficients has {len(self.coefficients)} values; degree {self.degree} needs "
                f"{(self.degree + 1) ** 2 - 1} (degrees 1..{self.degree})"
            )
        return self


class ShapePrior(StrictModel):
    """Random harmonic shapes: coefficients uniform in [-amplitude, amplitude] / degree."""

    degree: Integer(ge=1, le=8) = 3
    amplitude: Number(ge=0, le=1) = 0.25
    subdivisions: Integer(ge=0, le=6) = 3
    scale: Number(gt=0, le=1e3) = 1.0


def mesh_from_spec(spec: ShapeSpec, resolve: Callable[[str], Path] = Path) -> meshes.Mesh:
    """Build the mesh a shape spec describes.

    Examples
    --------
    >>> mesh_from_spec(ShapeSpec(kind="icosphere", subdivisions=1)).vertices.shape
    (42, 3)
    """
    if spec.kind == "icosphere":
        return meshes.icosphere(spec.subdivisions, spec.scale)
    if spec.kind == "harmonic":
        c = spec.coefficients
        if c is None:
            c = meshes.draw_harmonic_coefficients(np.random.default_rng(spec.seed), spec.degree, spec.amplitude)
        return meshes.harmonic(c, spec.subdivisions, spec.scale)
    if spec.kind == "superquadric":
        return meshes.superquadric(spec.exponent, tuple(spec.axes), spec.subdivisions, spec.scale)
    if spec.kind == "torus":
        return meshes.torus(spec.minor_radius, spec.segments, spec.scale)
    return meshes.load_mesh_file(resolve(spec.path or ""), spec.scale)


def shape_values(mesh: meshes.Mesh) -> Values:
    """Shape-group values of a mesh."""
    uv = mesh.uv if mesh.uv is not None else meshes.spherical_uv(mesh.vertices)
    return {"vertices": mesh.vertices.copy(), "faces": mesh.faces.copy(), "uv": uv.copy()}


def shape_distance(
    target: Mapping[str, np.ndarray], metamer: Mapping[str, np.ndarray], n: int = 20000, seed: int = 0
) -> dict[str, float]:
    """Chamfer distance and F-score between two meshes (``vertices``/``faces`` values).

    Returns
    -------
    dict
        ``chamfer``, ``fscore``, ``precision``, ``recall`` and ``fscore_threshold``.

    Examples
    --------
    >>> from mrd.render.meshes import icosphere
    >>> a, b = shape_values(icosphere(3)), shape_values(icosphere(3, radius=1.1))
    >>> round(shape_distance(a, b)["chamfer"], 2)
    0.1
    """
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    ta = meshes.Mesh(target["vertices"], target["faces"])
    mb = meshes.Mesh(metamer["vertices"], metamer["faces"])
    pa, pb = meshes.sample_surface(ta, n, rng), meshes.sample_surface(mb, n, rng)
    d_ab, _ = cKDTree(pb).query(pa)  # target points -> metamer surface
    d_ba, _ = cKDTree(pa).query(pb)
    v = ta.vertices.astype(np.float64)
    tau = FSCORE_FRACTION * float(np.linalg.norm(v.max(axis=0) - v.min(axis=0)))
    recall, precision = float(np.mean(d_ab < tau)), float(np.mean(d_ba < tau))
    f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {
        "chamfer": float(0.5 * (d_ab.mean() + d_ba.mean())),
        "fscore": f,
        "precision": precision,
        "recall": recall,
        "fscore_threshold": tau,
    }


def jittered(vertices: np.ndarray, rng: np.random.Generator, amplitude: float, degree: int = 3) -> np.ndarray:
    """Vertices scaled radially (about their centroid) by ``1 + sum c_lm Y_lm`` with coefficients drawn
    uniform in ``[-amplitude, amplitude] / degree``: a smooth random perturbation of a start mesh.

    Examples
    --------
    >>> v = meshes.icosphere(2).vertices
    >>> w = jittered(v, np.random.default_rng(0), 0.05)
    >>> bool(0 < np.abs(np.linalg.norm(w, axis=1) - 1).max() < 0.2)
    True
    """
    v = np.asarray(vertices, np.float64)
    centre = v.mean(axis=0)
    d = v - centre
    r = np.linalg.norm(d, axis=1, keepdims=True)
    factor = meshes.harmonic_field(meshes.draw_harmonic_coefficients(rng, degree, amplitude), d / np.maximum(r, 1e-12))
    return (centre + d * np.maximum(factor, 0.5)[:, None]).astype(np.float32)


class ShapeParam(GroupParam):
    """Vertex positions through LargeSteps, with optional Botsch remeshing every ``remesh_every`` steps.

    Parameters
    ----------
    start : dict
        ``vertices`` (N, 3), ``faces`` (F, 3), ``uv`` (N, 2).
    lambda_ : float
        LargeSteps smoothness (larger diffuses gradients further; grow it with tessellation).
    remesh_edge_scale : float
        Remeshing target edge length relative to the current mean edge length.
    remesh_every : int
        Remesh after every this many steps (0: never).
    remesh_at : sequence of int
        Also remesh after these steps (1-based step counts, as the MRD reference's epoch list).
    """

    name = "shape"
    uniform = True
    integrator = "projective"

    def __init__(
        self, start: Mapping[str, np.ndarray], lambda_: float = 19.0, remesh_edge_scale: float = 1.0,
        remesh_every: int = 0, remesh_at: tuple[int, ...] | list[int] = (),
    ) -> None:  # fmt: skip
        self.faces = np.asarray(start["faces"], np.int32).copy()
        self.uv = np.asarray(start["uv"], np.float32).copy()
        self.start_vertices = np.asarray(start["vertices"], np.float32).copy()
        self.lambda_ = float(lambda_)
        self.remesh_edge_scale = float(remesh_edge_scale)
        self.remesh_every = int(remesh_every)
        self.remesh_at = frozenset(int(k) for k in remesh_at)
        self.remeshes = 0
        self._build(self.start_vertices)

    def _build(self, vertices: np.ndarray) -> None:
        import mitsuba as mi

        self._v0 = mi.Float(np.asarray(vertices, np.float32).ravel())
        self.largesteps = mi.ad.LargeSteps(self._v0, mi.UInt(self.faces.astype(np.uint32).ravel()), self.lambda_)

    def init(self) -> dict[str, Any]:
        return {"u": self.largesteps.to_differential(self._v0)}

    def apply(self, latents: Mapping[str, Any], renderer: Any) -> None:
        renderer.write(KEYS["vertices"], self.largesteps.from_differential(latents["u"]))

    def vertices(self, latents: Mapping[str, Any]) -> np.ndarray:
        """Current vertex positions ``(N, 3)``."""
        import drjit as dr

        with dr.suspend_grad():
            v = self.largesteps.from_differential(latents["u"])
        return np.asarray(v, np.float32).reshape(-1, 3)

    def values(self, latents: Mapping[str, Any]) -> Values:
        return {"vertices": self.vertices(latents), "faces": self.faces.copy(), "uv": self.uv.copy()}

    def after_step(self, step: int, latents: Mapping[str, Any], renderer: Any) -> dict[str, Any] | None:
        if (self.remesh_every > 0 and (step + 1) % self.remesh_every == 0) or (step + 1) in self.remesh_at:
            return self.remesh(latents, renderer)
        return None

    def remesh(self, latents: Mapping[str, Any], renderer: Any) -> dict[str, Any]:
        """Remesh the current surface (Botsch-Kobbelt), write it to ``renderer``, return new latents.

        UV coordinates move to the new vertices from their nearest old vertex.
        """
        import gpytoolbox
        from scipy.spatial import cKDTree

        v = self.vertices(latents).astype(np.float64)
        h = meshes.Mesh(v, self.faces).edge_length() * self.remesh_edge_scale
        nv, nf = gpytoolbox.remesh_botsch(v, self.faces.astype(np.int32), i=5, h=h, project=True)
        _, nearest = cKDTree(v).query(nv)
        self.uv = self.uv[nearest]
        self.faces = np.asarray(nf, np.int32)
        nv = np.asarray(nv, np.float32)
        Shape().write(renderer, {"vertices": nv, "faces": self.faces, "uv": self.uv})
        renderer.update()
        self._build(nv)
        self.remeshes += 1
        return self.init()

    def info(self) -> dict[str, Any]:
        return {"remeshes": self.remeshes, "largesteps_lambda": self.lambda_}


class Shape(ParameterGroup):
    """The shape group (see the module docstring)."""

    name = "shape"

    def target_values(self, scene: Any, resolve: Callable[[str], Path] = Path) -> Values:
        return shape_values(mesh_from_spec(scene.shape, resolve))

    def draw(self, cfg: Any, target: Values, rng: np.random.Generator) -> Values:
        p = cfg.prior.shape
        c = meshes.draw_harmonic_coefficients(rng, p.degree, p.amplitude)
        return shape_values(meshes.harmonic(c, p.subdivisions, p.scale))

    def explicit_start(
        self, explicit: Any, drawn: Values, resolve: Callable[[str], Path] = Path, *, cfg: Any = None,
        rng: np.random.Generator | None = None,
    ) -> Values:  # fmt: skip
        values = shape_values(mesh_from_spec(explicit, resolve))
        jitter = float(getattr(getattr(cfg, "optimize", None), "start_jitter", 0.0) or 0.0)
        if jitter > 0 and rng is not None:  # seeds start from different meshes, not one shared icosphere
            values["vertices"] = jittered(values["vertices"], rng, jitter)
        return values

    def parametrise(self, start: Values, cfg: Any, target: Params) -> GroupParam:
        o = cfg.optimize
        if getattr(o, "shape_basis", "vertices") == "harmonic":
            from mrd.groups.shape_harmonic import HarmonicShapeParam

            return HarmonicShapeParam(start, o.shape_degree, cfg.prior.shape.subdivisions)
        return ShapeParam(start, o.largesteps_lambda, o.remesh_edge_scale, o.remesh_every, getattr(o, "remesh_at", ()))

    def write(self, renderer: Any, values: Mapping[str, np.ndarray]) -> None:
        import mitsuba as mi

        renderer.write(KEYS["vertices"], mi.Float(np.asarray(values["vertices"], np.float32).ravel()))
        renderer.write(KEYS["faces"], mi.UInt(np.asarray(values["faces"], np.uint32).ravel()))
        renderer.write(KEYS["uv"], mi.Float(np.asarray(values["uv"], np.float32).ravel()))

    def distance(self, target: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]) -> dict[str, float]:
        return shape_distance(target, other)
