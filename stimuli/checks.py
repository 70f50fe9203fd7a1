"""Checks a record must pass before the writer stores it (shapes, dtypes, renders, seeds, success).

Examples
--------
>>> import numpy as np
>>> d = np.zeros((2, 4, 4, 3), np.uint8)
>>> check_renders(d, np.stack([d, d + 1]), [1, 2], "scene 's0'")
>>> check_renders(d, np.stack([d + 1, d]), [1, 2], "scene 's0'")
Traceback (most recent call last):
...
stimuli.errors.MRDError: scene 's0': renders[0] must equal display (display is the first independent render)
"""

from __future__ import annotations

import numpy as np

from stimuli.errors import MRDError
from stimuli.records import MetamerRecord, SceneRecord, Similarity
from stimuli.schema import check_seed
from stimuli.success import check_criterion, success_rule


def check_images(display: np.ndarray, hdr: np.ndarray, what: str) -> None:
    """``display`` is uint8 ``(V, H, W, 3)`` and ``hdr`` has its shape."""
    if display.ndim != 4 or display.shape[-1] != 3 or display.dtype != np.uint8:
        raise MRDError(f"{what}: display must be uint8 (V, H, W, 3), got {display.dtype} {display.shape}")
    if hdr.shape != display.shape:
        raise MRDError(f"{what}: hdr shape {hdr.shape} differs from display shape {display.shape}")


def check_renders(display: np.ndarray, renders: np.ndarray | None, seeds: list[int], what: str) -> None:
    """Renders are uint8 ``(R, V, H, W, 3)``, R >= 1, ``renders[0] == display``, R distinct int64 seeds."""
    if renders is None:
        if seeds:
            raise MRDError(f"{what}: render_seeds given ({len(seeds)}) but no renders")
        return
    r = np.asarray(renders)
    if r.dtype != np.uint8 or r.ndim != 5 or r.shape[0] < 1 or r.shape[1:] != display.shape:
        raise MRDError(
            f"{what}: renders must be uint8 (R >= 1, {', '.join(map(str, display.shape))}) like display, "
            f"got {r.dtype} {r.shape}"
        )
    if not np.array_equal(r[0], display):
        raise MRDError(f"{what}: renders[0] must equal display (display is the first independent render)")
    if len(seeds) != r.shape[0]:
        raise MRDError(f"{what}: render_seeds has {len(seeds)} seeds for {r.shape[0]} renders; give one per render")
    clean = [check_seed(s, f"{what}: render_seeds[{i}]") for i, s in enumerate(seeds)]
    if len(set(clean)) != len(clean):
        raise MRDError(f"{what}: render_seeds {clean} repeat a seed; independent renders need distinct seeds")


def check_similarity(sim: Similarity, n_views: int, what: str) -> None:
    """``cosine``/``rel_l2`` are ``(views, layers)``, the null arrays ``(K, layers)``, all finite."""
    n_layers = len(sim.layers)
    for name in ("cosine", "rel_l2"):
        arr = np.asarray(getattr(sim, name))
        if arr.shape != (n_views, n_layers):
            raise MRDError(f"{what}: {name} must have shape (views, layers) = {(n_views, n_layers)}, got {arr.shape}")
    for name in ("null_cosine", "null_rel_l2"):
        arr = np.asarray(getattr(sim, name))
        if arr.ndim != 2 or arr.shape[1] != n_layers:
            raise MRDError(f"{what}: {name} must have shape (K, layers={n_layers}), got {arr.shape}")


def check_finite(value: object, what: str) -> None:
    """Floating-point values must be finite (NaN or infinity is refused, naming ``what``).

    Examples
    --------
    >>> check_finite(np.array([1.0, np.nan]), "metamer 'm0': loss")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: metamer 'm0': loss holds NaN or infinity (first at index 1); the value cannot be stored
    """
    arr = np.asarray(value)
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        first = np.argwhere(~np.isfinite(arr))[0]
        at = tuple(int(i) for i in first) if arr.ndim > 1 else int(first[0]) if arr.ndim else "the value"
        raise MRDError(f"{what} holds NaN or infinity (first at index {at}); the value cannot be stored")


def _params_finite(params: dict, what: str) -> None:
    for group, values in params.items():
        for name, value in values.items():
            check_finite(value, f"{what}: parameter {group}/{name}")


def check_scene(rec: SceneRecord) -> None:
    """All checks of a scene record."""
    what = f"scene {rec.scene_id!r}"
    check_images(rec.display, rec.hdr, what)
    check_renders(rec.display, rec.renders, list(rec.render_seeds), what)
    check_finite(rec.hdr, f"{what}: hdr")
    _params_finite(rec.params, what)


def check_metamer(rec: MetamerRecord) -> None:
    """Checks of a metamer record that need no store: images, renders, seed, similarity, success."""
    what = f"metamer {rec.metamer_id!r}"
    check_images(rec.display, rec.hdr, what)
    check_renders(rec.display, rec.renders, list(rec.render_seeds), what)
    check_seed(rec.seed, f"{what}: seed")
    check_seed(rec.steps, f"{what}: steps")
    check_finite(rec.loss, f"{what}: loss (the optimisation diverged)")
    check_finite(rec.hdr, f"{what}: hdr")
    check_finite(np.asarray(float(rec.wall_time_s)), f"{what}: wall_time_s")
    for key, value in rec.physical_distance.items():
        check_finite(np.asarray(float(value)), f"{what}: physical_distance {key!r}")
    _params_finite(rec.initial_params, f"{what}: initial_params")
    _params_finite(rec.final_params, f"{what}: final_params")
    for mid, sim in rec.similarity.items():
        check_similarity(sim, rec.display.shape[0], f"{what}, similarity {mid!r}")
        for name in ("cosine", "rel_l2", "null_cosine", "null_rel_l2"):
            check_finite(getattr(sim, name), f"{what}, similarity {mid!r}: {name}")
    if rec.criterion is not None:
        crit = check_criterion(rec.criterion, what)
        if bool(rec.success) != success_rule(crit):
            raise MRDError(
                f"{what}: success = {bool(rec.success)} contradicts its criterion {crit} "
                "(success means oddity_pc <= oddity_pc_max and null_p <= null_alpha and beats_start)"
            )
