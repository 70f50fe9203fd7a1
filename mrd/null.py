"""Draws from the prior over a parameter group: metamer starts and the null reference.

The null reference of a (scene, group) is K scenes equal to the target except that the group is
drawn from its prior; a metamer succeeds when it is closer to its target than all of them.
Starts are drawn from the same prior (or given explicitly in the config).

Priors (config ``[prior.*]``):

* material: each varied value uniform in its range (colour channels independently; a texture
  gets one uniform colour); unvaried values keep the target's.
* lighting: each radiance channel log-uniform (environment and light ranges); unvaried parts
  keep the target's.
* shape: a harmonic deformed sphere with coefficients uniform in ``[-a, a] / degree``.

Examples
--------
>>> import numpy as np
>>> from mrd.config import Priors, SceneSpec
>>> from mrd.scene import target_params
>>> t = target_params(SceneSpec(id="a"))
>>> d = draw_group("material", Priors(), t, np.random.default_rng(0))
>>> sorted(d), bool(np.all((d["base_color"] >= 0.05) & (d["base_color"] <= 0.95)))
(['base_color', 'metallic', 'roughness', 'specular'], True)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mrd import meshes
from mrd.config import LIGHTING_PARAMS, MATERIAL_PARAMS, Priors, StartSpec
from mrd.scene import copy_params, mesh_from_spec, shape_values
from stimuli.records import Params


def stable_seed(*parts: Any) -> int:
    """A seed from any printable parts, stable across runs and machines (not Python's ``hash``).

    Examples
    --------
    >>> stable_seed(0, "scene", "material") == stable_seed(0, "scene", "material")
    True
    """
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n)).astype(np.float32)


def draw_group(
    group: str,
    prior: Priors,
    target: Params,
    rng: np.random.Generator,
    *,
    vary_material: Sequence[str] = MATERIAL_PARAMS,
    vary_lighting: Sequence[str] = LIGHTING_PARAMS,
) -> dict[str, np.ndarray]:
    """One draw of ``group``'s values from the prior (values not varied keep the target's).

    Parameters
    ----------
    group : {"shape", "material", "lighting"}
    prior : mrd.config.Priors
    target : stimuli.records.Params
        The target scene's values (for structure, and for values that are not varied).
    rng : numpy.random.Generator
    vary_material, vary_lighting : sequence of str
        Which material values / lighting parts are varied.

    Returns
    -------
    dict of str to numpy.ndarray
    """
    tv = copy_params(target)[group]
    if group == "shape":
        p = prior.shape
        c = meshes.draw_harmonic_coefficients(rng, p.degree, p.amplitude)
        return shape_values(meshes.harmonic(c, p.subdivisions, p.scale))
    if group == "material":
        pm = prior.material
        for name in MATERIAL_PARAMS:
            lo, hi = getattr(pm, name)
            if name not in vary_material:
                continue
            if name == "base_color":
                color = rng.uniform(lo, hi, 3).astype(np.float32)
                tv[name] = np.broadcast_to(color, tv[name].shape).astype(np.float32).copy()
            else:
                tv[name] = np.float32(rng.uniform(lo, hi))
        return tv
    pl = prior.lighting
    for name in sorted(tv):
        part = "light" if name == "light_intensity" else "environment"
        if part in vary_lighting:
            lo, hi = getattr(pl, part)
            tv[name] = _log_uniform(rng, lo, hi, 3)
    return tv


def start_values(
    group: str,
    prior: Priors,
    target: Params,
    rng: np.random.Generator,
    start: StartSpec | None = None,
    *,
    resolve: Callable[[str], Path] = Path,
    vary_material: Sequence[str] = MATERIAL_PARAMS,
    vary_lighting: Sequence[str] = LIGHTING_PARAMS,
) -> dict[str, np.ndarray]:
    """A metamer's start values of ``group``: explicit (config ``start``) where given, else drawn.

    Examples
    --------
    >>> from mrd.config import Priors, SceneSpec, ShapeSpec, StartSpec
    >>> from mrd.scene import target_params
    >>> t = target_params(SceneSpec(id="a"))
    >>> s = start_values("shape", Priors(), t, np.random.default_rng(0),
    ...                  StartSpec(shape=ShapeSpec(kind="icosphere", subdivisions=2)))
    >>> s["vertices"].shape
    (162, 3)
    """
    drawn = draw_group(group, prior, target, rng, vary_material=vary_material, vary_lighting=vary_lighting)
    explicit = None if start is None else getattr(start, group)
    if explicit is None:
        return drawn
    if group == "shape":
        return shape_values(mesh_from_spec(explicit, resolve))
    for name, value in explicit.items():
        if name == "texture":
            continue
        if name in drawn:
            v = np.asarray(value, np.float32)
            drawn[name] = np.broadcast_to(v, drawn[name].shape).astype(np.float32).copy()
    return drawn


def null_params(
    group: str,
    prior: Priors,
    target: Params,
    k: int,
    seed: int,
    *,
    vary_material: Sequence[str] = MATERIAL_PARAMS,
    vary_lighting: Sequence[str] = LIGHTING_PARAMS,
) -> list[Params]:
    """``k`` scenes equal to the target except for ``group``, drawn from the prior.

    Examples
    --------
    >>> from mrd.config import Priors, SceneSpec
    >>> from mrd.scene import target_params
    >>> t = target_params(SceneSpec(id="a"))
    >>> nulls = null_params("lighting", Priors(), t, 3, seed=1)
    >>> len(nulls), bool(np.array_equal(nulls[0]["shape"]["vertices"], t["shape"]["vertices"]))
    (3, True)
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        p = copy_params(target)
        p[group] = draw_group(
            group, prior, target, rng, vary_material=vary_material, vary_lighting=vary_lighting
        )
        out.append(p)
    return out


def render_null_displays(
    renderer: Any, nulls: list[Params], group: str, *, spp: int, seed: int, exposure: float = 0.0
) -> np.ndarray:
    """Display images ``(K, V, H, W, 3)`` uint8 of null scenes (the renderer is left at the last one).

    Only ``group`` is rewritten per draw: the others must already hold the target's values.
    """
    from mrd.tonemap import display_image

    w, h = renderer.layout.size
    out = np.zeros((len(nulls), renderer.n_views, h, w, 3), np.uint8)
    for i, p in enumerate(nulls):
        renderer.set_params(p, (group,))
        out[i] = display_image(renderer.render_display(spp, stable_seed(seed, i)), exposure)
    return out
