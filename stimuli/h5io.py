"""Encode records into HDF5 groups and decode them back.

One function pair per unit kind. Lists and dicts go into JSON attributes; arrays into datasets
(images gzip-compressed), each stamped with its checksum (:mod:`stimuli.checksum`). These functions
know the layout; :mod:`stimuli.writer` knows how to make writes crash-safe, :mod:`stimuli.reader`
how to open a store. A dataset that cannot be read (a damaged chunk) raises :class:`MRDError`
naming it.

Examples
--------
>>> import h5py, numpy as np, tempfile, os
>>> from stimuli.records import ModelRecord
>>> rec = ModelRecord("m", "resnet18", "random", "", "", ["layer1"], (3, 224, 224), (0.5,) * 3, (0.5,) * 3)
>>> path = os.path.join(tempfile.mkdtemp(), "x.h5")
>>> with h5py.File(path, "w") as f:
...     write_model(f.create_group("m"), rec)
...     read_model(f["m"]) == rec
True
"""

from __future__ import annotations

import json
from typing import Any

import h5py
import numpy as np

from stimuli.checksum import array_sha256, stamp_tree
from stimuli.errors import MRDError
from stimuli.records import MetamerRecord, ModelRecord, Params, SceneRecord, Similarity

_IMAGE = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def _dataset(group: h5py.Group, name: str, data: np.ndarray, **kwargs: Any) -> None:
    arr = np.asarray(data, order="C")
    ds = group.create_dataset(name, data=arr, **kwargs)
    ds.attrs["sha256"] = array_sha256(arr)


def _image(group: h5py.Group, name: str, data: np.ndarray, dtype: str) -> None:
    arr = np.asarray(data, dtype=dtype, order="C")
    if arr.size == 0:
        _dataset(group, name, arr)
    else:
        _dataset(group, name, arr, chunks=True, **_IMAGE)


def read_dataset(ds: h5py.Dataset) -> np.ndarray:
    """All values of a dataset, or :class:`MRDError` naming it when a part cannot be read."""
    try:
        return ds[()]
    except (OSError, RuntimeError, ValueError) as exc:
        raise MRDError(
            f"{ds.file.filename}: dataset {ds.name} cannot be read ({exc}); the file is damaged. "
            f"`mrd inspect {ds.file.filename} --validate` lists every damaged part"
        ) from None


def write_params(group: h5py.Group, params: Params) -> None:
    """Write ``{group: {name: array}}`` as nested groups of datasets."""
    for gname, values in params.items():
        sub = group.require_group(gname)
        for name, value in values.items():
            _dataset(sub, name, np.asarray(value))


def read_params(group: h5py.Group) -> Params:
    """Read parameters written by :func:`write_params` (0-d arrays stay 0-d arrays)."""
    return {g: {n: np.asarray(read_dataset(ds)) for n, ds in group[g].items()} for g in group}


def _write_renders(group: h5py.Group, renders: np.ndarray | None, seeds: list[int]) -> None:
    if renders is not None:
        _image(group, "renders", renders, "uint8")
        group.attrs["render_seeds"] = _json([int(x) for x in seeds])


def read_render_seeds(group: h5py.Group) -> list[int]:
    """The ``render_seeds`` attribute of a scene or metamer group (empty when absent)."""
    return [int(x) for x in json.loads(group.attrs["render_seeds"])] if "render_seeds" in group.attrs else []


def _read_renders(group: h5py.Group, images: bool) -> tuple[np.ndarray | None, list[int]]:
    seeds = read_render_seeds(group)
    renders = read_dataset(group["renders"]) if images and "renders" in group else None
    return renders, seeds


def write_model(group: h5py.Group, rec: ModelRecord) -> None:
    """Write a :class:`ModelRecord` into ``group``."""
    a = group.attrs
    a["name"], a["source"] = rec.name, rec.source
    a["weight_source"], a["weight_sha256"] = rec.weight_source, rec.weight_sha256
    a["layers"] = _json(list(rec.layers))
    a["input_size"] = _json([int(x) for x in rec.input_size])
    a["mean"], a["std"] = _json([float(x) for x in rec.mean]), _json([float(x) for x in rec.std])
    stamp_tree(group)


def read_model(group: h5py.Group) -> ModelRecord:
    """Read a :class:`ModelRecord` from ``group``."""
    a = group.attrs
    return ModelRecord(
        model_id=group.name.rsplit("/", 1)[-1],
        name=str(a["name"]),
        source=str(a["source"]),
        weight_source=str(a["weight_source"]),
        weight_sha256=str(a["weight_sha256"]),
        layers=list(json.loads(a["layers"])),
        input_size=tuple(json.loads(a["input_size"])),
        mean=tuple(json.loads(a["mean"])),
        std=tuple(json.loads(a["std"])),
    )


def write_scene(group: h5py.Group, rec: SceneRecord) -> None:
    """Write a :class:`SceneRecord` into ``group``."""
    a = group.attrs
    a["description"], a["views"] = _json(rec.description), _json(rec.views)
    a["spp"], a["tone_map"] = int(rec.spp), rec.tone_map
    _image(group, "hdr", rec.hdr, "float32")
    _image(group, "display", rec.display, "uint8")
    _write_renders(group, rec.renders, rec.render_seeds)
    write_params(group.create_group("params"), rec.params)
    stamp_tree(group)


def read_scene(group: h5py.Group, images: bool = True) -> SceneRecord:
    """Read a :class:`SceneRecord`; with ``images=False`` the image arrays are empty."""
    a = group.attrs
    empty = np.zeros((0, 0, 0, 3))
    renders, seeds = _read_renders(group, images)
    return SceneRecord(
        scene_id=group.name.rsplit("/", 1)[-1],
        description=json.loads(a["description"]),
        params=read_params(group["params"]),
        views=json.loads(a["views"]),
        hdr=read_dataset(group["hdr"]) if images else empty.astype(np.float32),
        display=read_dataset(group["display"]) if images else empty.astype(np.uint8),
        spp=int(a["spp"]),
        tone_map=str(a["tone_map"]),
        renders=renders,
        render_seeds=seeds,
    )


def write_similarity(group: h5py.Group, sim: Similarity) -> None:
    """Write a :class:`Similarity` into ``group`` (replacing what was there)."""
    for name in list(group.keys()):
        del group[name]
    group.attrs["layers"] = _json(list(sim.layers))
    for name in ("cosine", "rel_l2", "null_cosine", "null_rel_l2"):
        _dataset(group, name, np.asarray(getattr(sim, name), dtype="float64"))
    if sim.classification is not None:
        group.attrs["classification"] = _json(sim.classification)
    stamp_tree(group)


def read_similarity(group: h5py.Group) -> Similarity:
    """Read a :class:`Similarity` from ``group``."""
    return Similarity(
        layers=list(json.loads(group.attrs["layers"])),
        cosine=read_dataset(group["cosine"]),
        rel_l2=read_dataset(group["rel_l2"]),
        null_cosine=read_dataset(group["null_cosine"]),
        null_rel_l2=read_dataset(group["null_rel_l2"]),
        classification=json.loads(group.attrs["classification"]) if "classification" in group.attrs else None,
    )


def write_metamer(group: h5py.Group, rec: MetamerRecord) -> None:
    """Write a :class:`MetamerRecord` into ``group``."""
    a = group.attrs
    a["scene_id"], a["model_id"], a["group"] = rec.scene_id, rec.model_id, rec.group
    a["layers"] = _json(list(rec.layers))
    a["seed"], a["steps"], a["wall_time_s"] = int(rec.seed), int(rec.steps), float(rec.wall_time_s)
    a["converged"], a["success"] = bool(rec.converged), bool(rec.success)
    a["physical_distance"] = _json({k: float(v) for k, v in rec.physical_distance.items()})
    a["tone_map"], a["info"] = rec.tone_map, _json(rec.info)
    if rec.criterion is not None:
        a["criterion"] = _json(rec.criterion)
    _image(group, "display", rec.display, "uint8")
    _write_renders(group, rec.renders, rec.render_seeds)
    _image(group, "hdr", rec.hdr, "float32")
    _image(group, "null_display", rec.null_display, "uint8")
    _dataset(group, "loss", np.asarray(rec.loss, dtype="float64"))
    write_params(group.create_group("initial_params"), rec.initial_params)
    write_params(group.create_group("final_params"), rec.final_params)
    if rec.progress:
        prog = group.create_group("progress")
        for step, values in sorted(rec.progress.items()):
            write_params(prog.create_group(f"step_{int(step):06d}"), {rec.group: values})
    sims = group.create_group("similarity")
    for model_id, sim in rec.similarity.items():
        write_similarity(sims.create_group(model_id), sim)
    stamp_tree(group)


def read_metamer(group: h5py.Group, images: bool = True) -> MetamerRecord:
    """Read a :class:`MetamerRecord`; with ``images=False`` image arrays are empty."""
    a = group.attrs

    def img(name: str, dtype: str, ndim: int) -> np.ndarray:
        return read_dataset(group[name]) if images else np.zeros((0,) * (ndim - 1) + (3,), dtype)

    renders, seeds = _read_renders(group, images)

    return MetamerRecord(
        metamer_id=group.name.rsplit("/", 1)[-1],
        scene_id=str(a["scene_id"]),
        model_id=str(a["model_id"]),
        layers=list(json.loads(a["layers"])),
        group=str(a["group"]),
        seed=int(a["seed"]),
        initial_params=read_params(group["initial_params"]),
        final_params=read_params(group["final_params"]),
        display=img("display", "uint8", 4),
        hdr=img("hdr", "float32", 4),
        loss=read_dataset(group["loss"]),
        steps=int(a["steps"]),
        wall_time_s=float(a["wall_time_s"]),
        converged=bool(a["converged"]),
        success=bool(a["success"]),
        similarity={k: read_similarity(v) for k, v in group["similarity"].items()},
        physical_distance=json.loads(a["physical_distance"]),
        tone_map=str(a["tone_map"]),
        null_display=img("null_display", "uint8", 5),
        info=json.loads(a["info"]),
        renders=renders,
        render_seeds=seeds,
        criterion=json.loads(a["criterion"]) if "criterion" in a else None,
        progress={int(k.removeprefix("step_")): read_params(v)[str(a["group"])] for k, v in group["progress"].items()}
        if "progress" in group else {},
    )
