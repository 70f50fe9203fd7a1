"""Triangle meshes: procedural shapes and mesh files.

Procedural shapes are an icosphere, a family of smooth deformed spheres (radial displacement by
real spherical harmonics, a few coefficients per shape), superquadrics and a torus. Files
(``.ply``/``.obj``) are read with Mitsuba's own loaders. Every mesh is centred and scaled so that
its bounding sphere has radius ``scale``; sphere-like meshes carry spherical UV coordinates.

Examples
--------
>>> m = icosphere(2)
>>> m.vertices.shape, m.faces.shape
((162, 3), (320, 3))
>>> bool(np.allclose(np.linalg.norm(m.vertices, axis=1), 1.0, atol=1e-6))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import sph_harm_y

from stimuli.errors import MRDError


@dataclass
class Mesh:
    """A triangle mesh.

    Parameters
    ----------
    vertices : numpy.ndarray
        ``(N, 3)`` float32 positions.
    faces : numpy.ndarray
        ``(F, 3)`` int32 vertex indices (counter-clockwise seen from outside).
    uv : numpy.ndarray or None
        ``(N, 2)`` float32 texture coordinates.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float32).reshape(-1, 3)
        self.faces = np.ascontiguousarray(self.faces, dtype=np.int32).reshape(-1, 3)
        if self.uv is not None:
            self.uv = np.ascontiguousarray(self.uv, dtype=np.float32).reshape(-1, 2)

    def edge_length(self) -> float:
        """Mean edge length."""
        v = self.vertices.astype(np.float64)
        e = np.concatenate([self.faces[:, [0, 1]], self.faces[:, [1, 2]], self.faces[:, [2, 0]]])
        return float(np.mean(np.linalg.norm(v[e[:, 0]] - v[e[:, 1]], axis=1)))


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def spherical_uv(directions: np.ndarray) -> np.ndarray:
    """Longitude/latitude texture coordinates of unit directions (y up).

    Examples
    --------
    >>> float(spherical_uv(np.array([[0.0, 1.0, 0.0]]))[0, 1])
    0.0
    """
    d = _normalize(np.asarray(directions, dtype=np.float64))
    u = (np.arctan2(d[:, 0], d[:, 2]) / (2 * np.pi)) % 1.0
    v = np.arccos(np.clip(d[:, 1], -1, 1)) / np.pi
    return np.stack([u, v], axis=1).astype(np.float32)


def icosphere(subdivisions: int = 3, radius: float = 1.0) -> Mesh:
    """A geodesic sphere: an icosahedron subdivided ``subdivisions`` times.

    Examples
    --------
    >>> icosphere(0).faces.shape
    (20, 3)
    """
    t = (1.0 + 5.0**0.5) / 2.0
    v = np.array(
        [
            [-1, t, 0],
            [1, t, 0],
            [-1, -t, 0],
            [1, -t, 0],
            [0, -1, t],
            [0, 1, t],
            [0, -1, -t],
            [0, 1, -t],
            [t, 0, -1],
            [t, 0, 1],
            [-t, 0, -1],
            [-t, 0, 1],
        ],
        dtype=np.float64,
    )
    f = np.array(
        [
            [0, 11, 5],
            [0, 5, 1],
            [0, 1, 7],
            [0, 7, 10],
            [0, 10, 11],
            [1, 5, 9],
            [5, 11, 4],
            [11, 10, 2],
            [10, 7, 6],
            [7, 1, 8],
            [3, 9, 4],
            [3, 4, 2],
            [3, 2, 6],
            [3, 6, 8],
            [3, 8, 9],
            [4, 9, 5],
            [2, 4, 11],
            [6, 2, 10],
            [8, 6, 7],
            [9, 8, 1],
        ],
        dtype=np.int64,
    )
    v = _normalize(v)
    for _ in range(subdivisions):
        edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
        uniq, inv = np.unique(edges, axis=0, return_inverse=True)
        mids = _normalize(0.5 * (v[uniq[:, 0]] + v[uniq[:, 1]]))
        m = inv.ravel().reshape(3, -1).T + len(v)  # midpoints of edges (01, 12, 20) per face
        v = np.concatenate([v, mids])
        a, b, c = f[:, 0], f[:, 1], f[:, 2]
        ab, bc, ca = m[:, 0], m[:, 1], m[:, 2]
        f = np.concatenate([np.stack(x, 1) for x in ([a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca])])
    return Mesh(v * radius, f, spherical_uv(v))


def _real_sh(deg: int, m: int, theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    y = sph_harm_y(deg, abs(m), theta, phi)
    if m > 0:
        return np.sqrt(2.0) * (-1) ** m * y.real
    if m < 0:
        return np.sqrt(2.0) * (-1) ** m * y.imag
    return y.real


def n_harmonic_coefficients(degree: int) -> int:
    """Number of coefficients of degrees 1..degree: ``(degree + 1)**2 - 1``.

    Examples
    --------
    >>> n_harmonic_coefficients(3)
    15
    """
    return (degree + 1) ** 2 - 1


def draw_harmonic_coefficients(rng: np.random.Generator, degree: int, amplitude: float) -> np.ndarray:
    """Coefficients uniform in ``[-amplitude, amplitude] / l`` for degree ``l``.

    Examples
    --------
    >>> draw_harmonic_coefficients(np.random.default_rng(0), 2, 0.3).shape
    (8,)
    """
    scale = np.concatenate([np.full(2 * deg + 1, 1.0 / deg) for deg in range(1, degree + 1)])
    return rng.uniform(-amplitude, amplitude, size=scale.size) * scale


def harmonic(coefficients: np.ndarray, subdivisions: int = 3, scale: float = 1.0) -> Mesh:
    """A deformed sphere ``r(d) = 1 + sum_lm c_lm Y_lm(d)``, rescaled to radius ``scale``.

    Parameters
    ----------
    coefficients : array_like
        Real spherical-harmonic coefficients for degrees 1..L in order (l, m = -l..l); the
        length must be ``(L + 1)**2 - 1``.
    subdivisions : int
        Icosphere level of the underlying sphere.
    scale : float
        Radius of the bounding sphere of the result.

    Examples
    --------
    >>> m = harmonic([0.0, 0.3, 0.0], subdivisions=2)
    >>> round(float(np.linalg.norm(m.vertices, axis=1).max()), 4)
    1.0
    """
    c = np.asarray(coefficients, dtype=np.float64).ravel()
    degree = int(round(np.sqrt(c.size + 1))) - 1
    if n_harmonic_coefficients(degree) != c.size or degree < 1:
        raise MRDError(f"harmonic shape: {c.size} coefficients is not (L+1)^2-1 for any degree L >= 1")
    base = icosphere(subdivisions)
    d = base.vertices.astype(np.float64)
    r = np.maximum(harmonic_field(c, d), 0.15)
    return _fit(Mesh(d * r[:, None], base.faces, base.uv), scale)


def harmonic_terms(degree: int, directions: np.ndarray) -> np.ndarray:
    """The real spherical harmonics of degrees 1..degree (l, m = -l..l) at unit directions: ``(N, K)``.

    Examples
    --------
    >>> harmonic_terms(2, np.array([[0.0, 1.0, 0.0]])).shape
    (1, 8)
    """
    d = np.asarray(directions, dtype=np.float64)
    theta = np.arccos(np.clip(d[:, 1], -1, 1))
    phi = np.arctan2(d[:, 2], d[:, 0])
    cols = [_real_sh(deg, m, theta, phi) for deg in range(1, degree + 1) for m in range(-deg, deg + 1)]
    return np.stack(cols, axis=1) if cols else np.zeros((len(d), 0))


def harmonic_field(coefficients: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """``1 + sum_lm c_lm Y_lm(d)`` at unit directions ``(N, 3)`` (coefficients as in :func:`harmonic`).

    Examples
    --------
    >>> harmonic_field(np.zeros(3), np.array([[0.0, 1.0, 0.0]])).tolist()
    [1.0]
    """
    c = np.asarray(coefficients, dtype=np.float64).ravel()
    degree = int(round(np.sqrt(c.size + 1))) - 1
    terms = harmonic_terms(degree, directions)
    r = np.ones(len(terms))
    for i in range(c.size):  # term by term, in order (the arithmetic of every stored target mesh)
        r += c[i] * terms[:, i]
    return r


def superquadric(
    exponent: float = 0.5,
    axes: tuple[float, float, float] = (1, 1, 1),
    subdivisions: int = 3,
    scale: float = 1.0,
) -> Mesh:
    """A superellipsoid ``(|x/a|^(2/e) + |y/b|^(2/e) + |z/c|^(2/e)) = 1`` (radial map of a sphere).

    Examples
    --------
    >>> m = superquadric(0.3, subdivisions=1)
    >>> m.vertices.shape
    (42, 3)
    """
    base = icosphere(subdivisions)
    d = base.vertices.astype(np.float64)
    ax = np.asarray(axes, dtype=np.float64)
    s = np.sum(np.abs(d / ax) ** (2.0 / exponent), axis=1) ** (-exponent / 2.0)
    return _fit(Mesh(d * s[:, None], base.faces, base.uv), scale)


def torus(minor_radius: float = 0.35, segments: int = 48, scale: float = 1.0) -> Mesh:
    """A torus around the y axis; ``minor_radius`` is relative to the major radius.

    Examples
    --------
    >>> torus(0.3, 16).faces.shape
    (256, 3)
    """
    n_major, n_minor = segments, max(8, segments // 2)
    i, j = np.meshgrid(np.arange(n_major), np.arange(n_minor), indexing="ij")
    a, b = 2 * np.pi * i / n_major, 2 * np.pi * j / n_minor
    r = 1.0 + minor_radius * np.cos(b)
    v = np.stack([r * np.cos(a), minor_radius * np.sin(b), r * np.sin(a)], axis=-1).reshape(-1, 3)
    uv = np.stack([i / n_major, j / n_minor], axis=-1).reshape(-1, 2)
    idx = lambda ii, jj: (ii % n_major) * n_minor + (jj % n_minor)  # noqa: E731
    p00, p10, p01, p11 = idx(i, j), idx(i + 1, j), idx(i, j + 1), idx(i + 1, j + 1)
    f = np.concatenate(
        [np.stack([p00, p01, p10], -1).reshape(-1, 3), np.stack([p10, p01, p11], -1).reshape(-1, 3)]
    )
    return _fit(Mesh(v, f, uv), scale)


MAX_MESH_BYTES = 512 * 1024 * 1024
"""Largest mesh file read (512 MiB)."""


def load_mesh_file(path: str | Path, scale: float = 1.0) -> Mesh:
    """Read a ``.ply`` or ``.obj`` file with Mitsuba's loaders (the active variant must be set).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "tet.obj")
    >>> text = "v 1 1 1\\nv -1 -1 1\\nv -1 1 -1\\nv 1 -1 -1\\n"
    >>> _ = open(p, "w").write(text + "f 1 2 3\\nf 1 3 4\\nf 1 4 2\\nf 2 4 3\\n")
    >>> from mrd.render.variant import use_variant
    >>> _ = use_variant("llvm_ad_rgb")
    >>> load_mesh_file(p).faces.shape
    (4, 3)
    """
    import mitsuba as mi

    p = Path(path)
    if not p.exists():
        raise MRDError(f"{p}: mesh file not found")
    if not p.is_file():  # a folder, FIFO, socket or device: reading it could hang or never end
        raise MRDError(f"{p}: not a regular file; give a .ply or .obj mesh file")
    size = p.stat().st_size
    if size > MAX_MESH_BYTES:
        raise MRDError(f"{p}: {size} bytes is larger than the {MAX_MESH_BYTES} bytes a mesh file may have")
    kind = p.suffix.lower().lstrip(".")
    if kind not in ("ply", "obj"):
        raise MRDError(f"{p}: mesh files must be .ply or .obj, not {p.suffix!r}")
    try:
        shape = mi.load_dict({"type": kind, "filename": str(p)})
    except Exception as exc:  # Mitsuba raises RuntimeError with its own message
        raise MRDError(f"{p}: cannot read mesh ({exc})") from None
    params = mi.traverse(shape)
    v = np.array(params["vertex_positions"], dtype=np.float32).reshape(-1, 3)
    f = np.array(params["faces"], dtype=np.int64).reshape(-1, 3)
    uv_raw = np.array(params["vertex_texcoords"], dtype=np.float32)
    uv = uv_raw.reshape(-1, 2) if uv_raw.size == 2 * len(v) else None
    return _fit(Mesh(v, f, uv), scale)


def _fit(mesh: Mesh, scale: float) -> Mesh:
    """Centre on the bounding-box centre and scale to bounding-sphere radius ``scale``."""
    v = mesh.vertices.astype(np.float64)
    v = v - 0.5 * (v.min(axis=0) + v.max(axis=0))
    r = float(np.linalg.norm(v, axis=1).max())
    if r <= 0:
        raise MRDError("mesh has no extent (all vertices coincide)")
    uv = mesh.uv if mesh.uv is not None else spherical_uv(v)
    return Mesh(v * (scale / r), mesh.faces, uv)


def sample_surface(mesh: Mesh, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniformly distributed over the surface (area-weighted).

    Examples
    --------
    >>> sample_surface(icosphere(1), 100, np.random.default_rng(0)).shape
    (100, 3)
    """
    v = mesh.vertices.astype(np.float64)
    a, b, c = v[mesh.faces[:, 0]], v[mesh.faces[:, 1]], v[mesh.faces[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    if area.sum() <= 0:
        raise MRDError("mesh has zero surface area")
    tri = rng.choice(len(area), size=n, p=area / area.sum())
    r1, r2 = np.sqrt(rng.random(n)), rng.random(n)
    w = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], axis=1)
    return w[:, :1] * a[tri] + w[:, 1:2] * b[tri] + w[:, 2:] * c[tri]
