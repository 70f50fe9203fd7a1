"""Check a stimulus set against the schema; report every problem found.

Examples
--------
>>> import tempfile, os
>>> from stimuli.writer import StoreWriter
>>> path = os.path.join(tempfile.mkdtemp(), "set.h5")
>>> StoreWriter(path, config_text="x = 1").close()
>>> validate_store(path)
[]
>>> validate_store(path + ".missing")[0].endswith("no such file")
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from stimuli.digest import content_digest
from stimuli.errors import MRDError
from stimuli.reader import check_version, open_h5
from stimuli.schema import GROUPS, METAMER_ATTRS, MODEL_ATTRS, ROOT_ATTRS, SCENE_ATTRS, SIMILARITY_DATASETS
from stimuli.writer import sha256_text

Report = Callable[[str], None]

_JSON_ATTRS = {
    "models": ("layers", "input_size", "mean", "std"),
    "scenes": ("description", "views"),
    "metamers": ("layers", "physical_distance", "info"),
}


def validate_store(path: str | os.PathLike[str]) -> list[str]:
    """Validate a store; return a list of problems (empty when valid).

    Each problem names the file, the object (HDF5 path), and what is wrong versus what is expected.

    Parameters
    ----------
    path : path-like
        The store file.

    Returns
    -------
    list of str
        Problems found.
    """
    p = Path(path)
    problems: list[str] = []
    try:
        f = open_h5(p)
    except MRDError as exc:
        return [str(exc)]
    with f:
        def report(msg: str) -> None:
            problems.append(f"{p}: {msg}")

        try:
            check_version(f, p)
        except MRDError as exc:
            return [str(exc)]
        for name in ROOT_ATTRS:
            if name not in f.attrs:
                report(f"root attribute '{name}' is missing")
        has_config = "config_text" in f.attrs and "config_sha256" in f.attrs
        if has_config and sha256_text(str(f.attrs["config_text"])) != f.attrs["config_sha256"]:
            report("root attribute 'config_sha256' does not match the sha256 of 'config_text'")
        for group in ("models", "scenes", "metamers"):
            if group not in f:
                report(f"group '/{group}' is missing")
        if problems:
            return problems
        for _mid, g in f["models"].items():
            _attrs(g, MODEL_ATTRS, report)
        for _sid, g in f["scenes"].items():
            _attrs(g, SCENE_ATTRS, report)
            _image(g, "display", np.uint8, report)
            _image(g, "hdr", np.float32, report)
            _same_shape(g, "display", "hdr", report)
            if "params" not in g:
                report(f"{g.name}/params is missing")
        for _xid, g in f["metamers"].items():
            _metamer(f, g, report)
        if "content_digest" in f.attrs:
            actual = content_digest(f)
            if actual != f.attrs["content_digest"]:
                report(
                    f"content digest mismatch: stored {str(f.attrs['content_digest'])[:16]}..., "
                    f"computed {actual[:16]}... (display images changed after writing)"
                )
    return problems


def _attrs(g: h5py.Group, names: tuple[str, ...], report: Report) -> None:
    for name in names:
        if name not in g.attrs:
            report(f"{g.name}: attribute '{name}' is missing")
    kind = g.name.split("/")[1]
    for name in _JSON_ATTRS.get(kind, ()):
        if name in g.attrs:
            try:
                json.loads(g.attrs[name])
            except (TypeError, ValueError):
                report(f"{g.name}: attribute '{name}' is not valid JSON: {str(g.attrs[name])[:40]!r}")


def _image(g: h5py.Group, name: str, dtype: type, report: Report, ndim: int = 4) -> bool:
    ds = g.get(name)
    if ds is None:
        report(f"{g.name}/{name} is missing")
        return False
    if not isinstance(ds, h5py.Dataset):
        report(f"{g.name}/{name} is not a dataset")
        return False
    ok = True
    if ds.dtype != dtype:
        report(f"{g.name}/{name}: dtype {ds.dtype}, expected {np.dtype(dtype)}")
        ok = False
    if ds.ndim != ndim or ds.shape[-1] != 3:
        report(f"{g.name}/{name}: shape {ds.shape}, expected {ndim} dimensions ending in 3 (RGB)")
        ok = False
    return ok


def _same_shape(g: h5py.Group, a: str, b: str, report: Report) -> None:
    if a in g and b in g and hasattr(g[a], "shape") and hasattr(g[b], "shape") and g[a].shape != g[b].shape:
        report(f"{g.name}: {a} shape {g[a].shape} differs from {b} shape {g[b].shape}")


def _metamer(f: h5py.File, g: h5py.Group, report: Report) -> None:
    _attrs(g, METAMER_ATTRS, report)
    a = g.attrs
    scene_id, model_id = str(a.get("scene_id", "")), str(a.get("model_id", ""))
    if "scene_id" in a and scene_id not in f["scenes"]:
        report(f"{g.name}: scene_id {scene_id!r} is not in /scenes")
    if "model_id" in a and model_id not in f["models"]:
        report(f"{g.name}: model_id {model_id!r} is not in /models")
    if "group" in a and str(a["group"]) not in GROUPS:
        report(f"{g.name}: group {str(a['group'])!r} is not one of {', '.join(GROUPS)}")
    ok = _image(g, "display", np.uint8, report)
    _image(g, "hdr", np.float32, report)
    _same_shape(g, "display", "hdr", report)
    _image(g, "null_display", np.uint8, report, ndim=5)
    if ok and scene_id in f["scenes"] and "display" in f["scenes"][scene_id]:
        target = f["scenes"][scene_id]["display"].shape
        if g["display"].shape != target:
            report(f"{g.name}/display: shape {g['display'].shape} differs from its scene's {target}")
    loss = g.get("loss")
    if loss is None:
        report(f"{g.name}/loss is missing")
    elif loss.ndim != 1 or not np.issubdtype(loss.dtype, np.floating):
        report(f"{g.name}/loss: expected a 1-D float array, got {loss.dtype} {loss.shape}")
    elif "steps" in a and loss.shape[0] != int(a["steps"]):
        report(f"{g.name}/loss: length {loss.shape[0]} differs from attribute steps={int(a['steps'])}")
    for name in ("initial_params", "final_params"):
        if name not in g:
            report(f"{g.name}/{name} is missing")
    sims = g.get("similarity")
    if sims is None:
        report(f"{g.name}/similarity is missing")
        return
    if model_id and model_id not in sims:
        report(f"{g.name}/similarity: no entry for its own model {model_id!r}")
    n_views = g["display"].shape[0] if ok else None
    for _sid, s in sims.items():
        _similarity(f, s, n_views, report)


def _similarity(f: h5py.File, s: h5py.Group, n_views: int | None, report: Report) -> None:
    model_id = s.name.rsplit("/", 1)[-1]
    if model_id not in f["models"]:
        report(f"{s.name}: model {model_id!r} is not in /models")
    try:
        n_layers = len(json.loads(s.attrs["layers"]))
    except (KeyError, TypeError, ValueError):
        report(f"{s.name}: attribute 'layers' is missing or not JSON")
        return
    for name in SIMILARITY_DATASETS:
        ds = s.get(name)
        if ds is None:
            report(f"{s.name}/{name} is missing")
            continue
        if ds.ndim != 2 or ds.shape[1] != n_layers:
            report(f"{s.name}/{name}: shape {ds.shape}, expected (n, {n_layers} layers)")
        elif name in ("cosine", "rel_l2") and n_views is not None and ds.shape[0] != n_views:
            report(f"{s.name}/{name}: {ds.shape[0]} rows, expected one per view ({n_views})")
        elif not np.all(np.isfinite(ds[()])):
            report(f"{s.name}/{name}: contains non-finite values")
