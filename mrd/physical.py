"""Physical distance between a target and a metamer, in the varied group's own terms.

* shape: symmetric Chamfer distance (mean nearest-neighbour distance between points sampled
  uniformly on both surfaces, both directions averaged) and the F-score at a threshold of 1 % of
  the target's bounding-box diagonal (harmonic mean of precision and recall of those points);
* material: absolute differences of roughness, metallic and specular; RGB distance of the
  (mean) base colour and its CIE76 colour difference (Delta E in CIELAB, D65);
* lighting: log-radiance distance per value (``|log(a) - log(b)|`` norm over channels).

Examples
--------
>>> from mrd.meshes import icosphere
>>> from mrd.scene import shape_values
>>> d = shape_distance(shape_values(icosphere(2)), shape_values(icosphere(2)))
>>> bool(d["chamfer"] < 0.02), bool(d["fscore"] > 0.99)  # point samples of the same surface
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.spatial import cKDTree

from mrd.meshes import Mesh, sample_surface

FSCORE_FRACTION = 0.01
"""F-score threshold as a fraction of the target's bounding-box diagonal."""

_SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


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
    >>> from mrd.meshes import icosphere
    >>> from mrd.scene import shape_values
    >>> a, b = shape_values(icosphere(3)), shape_values(icosphere(3, radius=1.1))
    >>> round(shape_distance(a, b)["chamfer"], 2)
    0.1
    """
    rng = np.random.default_rng(seed)
    ta = Mesh(target["vertices"], target["faces"])
    mb = Mesh(metamer["vertices"], metamer["faces"])
    pa, pb = sample_surface(ta, n, rng), sample_surface(mb, n, rng)
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


def linear_rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of linear sRGB colours ``(..., 3)``.

    Examples
    --------
    >>> (np.round(linear_rgb_to_lab(np.array([1.0, 1.0, 1.0])), 2) + 0.0).tolist()
    [100.0, 0.0, 0.0]
    """
    xyz = np.asarray(rgb, np.float64) @ _SRGB_TO_XYZ.T / _WHITE_D65
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1
    )


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    """CIE76 colour difference of two linear sRGB colours (about 2.3 is just noticeable).

    Examples
    --------
    >>> round(delta_e(np.array([0.5, 0.1, 0.1]), np.array([0.5, 0.1, 0.1])), 6)
    0.0
    """
    return float(np.linalg.norm(linear_rgb_to_lab(a) - linear_rgb_to_lab(b)))


def _mean_color(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v.reshape(-1, 3).mean(axis=0)


def material_distance(
    target: Mapping[str, np.ndarray], metamer: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Per-value distances of two material value sets.

    Examples
    --------
    >>> t = {"base_color": np.array([0.8, 0.2, 0.2]), "roughness": 0.5, "metallic": 0.0, "specular": 0.5}
    >>> m = dict(t, roughness=0.2)
    >>> d = material_distance(t, m)
    >>> round(d["roughness"], 3), d["base_color_delta_e"]
    (0.3, 0.0)
    """
    out: dict[str, float] = {}
    for k in ("roughness", "metallic", "specular"):
        out[k] = float(abs(float(np.asarray(target[k])) - float(np.asarray(metamer[k]))))
    ta, mb = np.asarray(target["base_color"], np.float64), np.asarray(metamer["base_color"], np.float64)
    out["base_color_rgb"] = float(np.linalg.norm(_mean_color(ta) - _mean_color(mb)))
    out["base_color_delta_e"] = delta_e(_mean_color(ta), _mean_color(mb))
    if ta.ndim == 3:
        out["texture_rmse"] = float(np.sqrt(np.mean((ta - mb) ** 2)))
    return out


def lighting_distance(
    target: Mapping[str, np.ndarray], metamer: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Log-radiance distance of each lighting value.

    Examples
    --------
    >>> t = {"light_intensity": np.array([10.0, 10.0, 10.0])}
    >>> d = lighting_distance(t, {"light_intensity": np.array([20.0, 20.0, 20.0])})
    >>> round(d["light_intensity_log"], 3)
    1.201
    """
    out = {}
    for k in target:
        a = np.log(np.maximum(np.asarray(target[k], np.float64), 1e-6))
        b = np.log(np.maximum(np.asarray(metamer[k], np.float64), 1e-6))
        out[f"{k}_log"] = float(np.linalg.norm(a - b))
    return out


def physical_distance(
    group: str, target: Mapping[str, np.ndarray], metamer: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Distances for ``group`` (see the module docstring).

    Examples
    --------
    >>> physical_distance("lighting", {"sky": np.ones(3)}, {"sky": np.ones(3)})
    {'sky_log': 0.0}
    """
    if group == "shape":
        return shape_distance(target, metamer)
    if group == "material":
        return material_distance(target, metamer)
    return lighting_distance(target, metamer)
