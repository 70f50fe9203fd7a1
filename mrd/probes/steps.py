"""Steps of equal physical size along a latent direction: the physical metric of each group.

A Fisher eigenvector is a direction in a group's latent space; observers see physical changes.
Probe stimuli are therefore placed at steps of equal *physical* size along each direction:
``values(z0 + t v)`` with ``t`` solved (by bracketing and bisection) so that the group's physical
distance to the target is ``k * step`` for ``k = 1, 2, ...``, on both sides (``t > 0`` and ``t < 0``).

Physical metric per group (:func:`physical_distance`):

* ``material``: ``sqrt((dE / 100)^2 + droughness^2 + dmetallic^2 + dspecular^2)`` with ``dE`` the
  CIE76 Delta E of the (mean) base colour (L* spans 0..100, so the full lightness range weighs as
  much as the full range of a scalar value);
* ``shape``: the symmetric Chamfer distance (:func:`mrd.groups.shape.shape_distance`, fixed sampling
  seed);
* ``lighting``: ``sqrt(sum_k ||log a_k - log b_k||^2)`` over the lighting values (log radiance);
* any other registered group: the Euclidean norm of the values its ``distance`` returns.

Examples
--------
>>> t = {"base_color": np.array([0.5, 0.5, 0.5]), "roughness": 0.5, "metallic": 0.0, "specular": 0.5}
>>> round(physical_distance("material", t, dict(t, roughness=0.8)), 6)
0.3
>>> solve_step(lambda t: 2.0 * abs(t), 1.0, +1)
0.5
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from mrd.groups import get_group
from mrd.groups.lighting import lighting_distance
from mrd.groups.material import material_distance
from mrd.groups.shape import shape_distance
from stimuli.errors import MRDError

METRICS = {
    "material": "sqrt((Delta E76 of base colour / 100)^2 + sum of squared differences of roughness, metallic, specular)",
    "shape": "symmetric Chamfer distance (20000 surface samples, seed 0)",
    "lighting": "sqrt(sum over values of ||log radiance difference||^2)",
}
"""The physical metric of each shipped group, as recorded with every probe."""
OTHER_METRIC = "Euclidean norm of the group's distance() values"


def metric_name(group: str) -> str:
    """The physical metric of a group, in words.

    Examples
    --------
    >>> metric_name("shape")
    'symmetric Chamfer distance (20000 surface samples, seed 0)'
    """
    return METRICS.get(group, OTHER_METRIC)


def physical_distance(group: str, target: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]) -> float:
    """The physical distance of two value sets of a group (module docstring).

    Examples
    --------
    >>> a = {"light_intensity": np.array([10.0, 10.0, 10.0])}
    >>> round(physical_distance("lighting", a, {"light_intensity": np.array([10.0, 10.0, 20.0])}), 4)
    0.6931
    """
    if group == "material":
        d = material_distance(target, other)
        return float(np.sqrt((d["base_color_delta_e"] / 100.0) ** 2 + d["roughness"] ** 2 + d["metallic"] ** 2
                             + d["specular"] ** 2 + d.get("texture_rmse", 0.0) ** 2))  # fmt: skip
    if group == "shape":
        return float(shape_distance(target, other)["chamfer"])
    if group == "lighting":
        return float(np.sqrt(sum(v**2 for v in lighting_distance(target, other).values())))
    d = get_group(group).distance(target, other)
    return float(np.sqrt(sum(float(v) ** 2 for v in d.values())))


def solve_step(distance: Callable[[float], float], size: float, sign: int, *, t0: float = 0.05,
               t_max: float = 50.0, tol: float = 1e-3) -> float | None:  # fmt: skip
    """The ``t`` (of sign ``sign``) at which ``distance(t)`` first reaches ``size``; None if it never does.

    Doubles ``t`` from ``t0`` until the distance exceeds ``size`` (up to ``|t| = t_max``), then bisects
    to a relative tolerance ``tol`` in distance. ``distance(0)`` is taken to be 0.

    Examples
    --------
    >>> round(solve_step(lambda t: t * t, 4.0, -1), 3)
    -2.0
    >>> solve_step(lambda t: min(abs(t), 1.0), 2.0, +1) is None
    True
    """
    if size <= 0 or sign not in (-1, 1):
        raise MRDError(f"probe: step size must be > 0 and sign +-1, got {size}, {sign}")
    lo, hi = 0.0, float(t0)
    while distance(sign * hi) < size:
        lo, hi = hi, 2.0 * hi
        if hi > t_max:
            return None
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        d = distance(sign * mid)
        if abs(d - size) <= tol * size:
            return sign * mid
        lo, hi = (mid, hi) if d < size else (lo, mid)
    return sign * 0.5 * (lo + hi)


def equal_steps(
    group: str, values: Callable[[np.ndarray], Mapping[str, np.ndarray]], z0: np.ndarray, direction: np.ndarray,
    size: float, count: int, *, signs: tuple[int, ...] = (1, -1),
) -> list[dict[str, Any]]:  # fmt: skip
    """Latent points at physical distance ``k * size`` (``k = 1..count``) from the target along ``±direction``.

    Parameters
    ----------
    group : str
    values : callable
        Latent vector -> the group's physical values (:meth:`mrd.probes.operator.ActivationMap.values`).
    z0, direction : numpy.ndarray
        The target's latent point and a direction (normalised here).
    size : float
        Physical step (units of :func:`metric_name`).
    count : int
        Steps per side.
    signs : tuple of int
        Sides to step to.

    Returns
    -------
    list of dict
        ``{"sign", "step", "t", "z", "values", "distance"}`` per step reached (a side whose distance
        saturates before ``k * size`` stops there).

    Examples
    --------
    >>> vals = lambda z: {"light_intensity": np.exp(z)}
    >>> out = equal_steps("lighting", vals, np.zeros(3), np.array([1.0, 0, 0]), 0.5, 2, signs=(1,))
    >>> [(s["step"], round(s["t"], 2), round(s["distance"], 3)) for s in out]
    [(1, 0.5, 0.5), (2, 1.0, 1.0)]
    """
    v = np.asarray(direction, np.float64)
    v = v / np.linalg.norm(v)
    target = values(z0)
    dist = lambda t: physical_distance(group, target, values(z0 + t * v))  # noqa: E731
    out: list[dict[str, Any]] = []
    for sign in signs:
        for k in range(1, int(count) + 1):
            t = solve_step(dist, k * size, sign)
            if t is None:
                break
            z = z0 + t * v
            out.append({"sign": sign, "step": k, "t": float(t), "z": z, "values": values(z),
                        "distance": dist(t)})  # fmt: skip
    return out
