"""Probe units: eigendistortion steps and MAD-competition scenes, their record and HDF5 layout.

A *probe* is one rendered scene that differs from its target in one parameter group, made by
``mrd probe eigen`` (a step of equal physical size along the most or least sensitive direction of
a model's Fisher information) or ``mrd probe mad`` (a scene that maximises or minimises model A's
activation distance while model B's is held). Like a metamer it holds independent display renders
``(R, V, H, W, 3)`` uint8, so the oddity experiment shows it as the odd item against renders of its
target; unlike a metamer it carries what the probe measured. Layout (``/probes/<probe_id>``,
documented in ``docs/schema.md``):

* attributes: ``scene_id``, ``group``, ``probe`` (``"eigen"`` | ``"mad"``), ``model_id`` (eigen: the
  model; MAD: model A, the one pushed), ``model_b`` (MAD: the model held; eigen: ``""``),
  ``direction`` (eigen: ``"most"`` | ``"least"``; MAD: ``"max"`` | ``"min"``), ``rank`` (eigen:
  0 = the extreme eigenpair), ``step`` (eigen: signed step number; MAD: 0), ``step_size`` and
  ``physical_distance`` (units of ``metric``), ``metric``, ``eigenvalue``, ``eigenvalue_fd``
  (finite-difference check; NaN when not made), ``tone_map``, JSON ``distances``
  (``{model_id: activation distance of display renders to the target's}``) and ``info``;
  JSON ``render_seeds``;
* datasets: ``display`` (= ``renders[0]``), ``renders``, ``params/<group>/<name>``
  (the group's values), ``spectrum`` (eigen: every eigenvalue, descending; MAD: empty),
  ``vector`` (eigen: the unit latent direction; MAD: the latent change from the target),
  ``curve_a``, ``curve_b`` (MAD: both models' distances per accepted iteration; eigen: empty).

Examples
--------
>>> import h5py, io
>>> rec = example_probe()
>>> with h5py.File(io.BytesIO(), "w") as f:
...     write_probe(f.create_group("p"), rec)
...     back = read_probe(f["p"])
>>> back.probe, back.direction, back.renders.shape, back.params["material"]["roughness"].item()
('eigen', 'least', (2, 1, 4, 4, 3), 0.5)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from stimuli.checksum import stamp_tree
from stimuli.errors import MRDError
from stimuli.h5io import _dataset, _image, read_dataset, read_params, read_render_seeds, write_params

PROBES = ("eigen", "mad")
"""Probe kinds."""
DIRECTIONS = {"eigen": ("most", "least"), "mad": ("max", "min")}
"""Valid ``direction`` of each probe kind."""
FOLDER = "probes"
"""Root folder of probe units."""
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]{0,255}$")


@dataclass
class ProbeRecord:
    """One probe stimulus (see the module docstring for the meaning of every field)."""

    probe_id: str
    scene_id: str
    group: str
    probe: str
    model_id: str
    direction: str
    renders: np.ndarray
    render_seeds: list[int]
    params: dict[str, dict[str, np.ndarray]]
    model_b: str = ""
    rank: int = 0
    step: int = 0
    step_size: float = 0.0
    physical_distance: float = 0.0
    metric: str = ""
    eigenvalue: float = float("nan")
    eigenvalue_fd: float = float("nan")
    spectrum: np.ndarray = field(default_factory=lambda: np.zeros(0))
    vector: np.ndarray = field(default_factory=lambda: np.zeros(0))
    curve_a: np.ndarray = field(default_factory=lambda: np.zeros(0))
    curve_b: np.ndarray = field(default_factory=lambda: np.zeros(0))
    distances: dict[str, float] = field(default_factory=dict)
    tone_map: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def display(self) -> np.ndarray:
        """The first render ``(V, H, W, 3)``."""
        return self.renders[0]


def check_probe(rec: ProbeRecord, what: str = "probe") -> None:
    """Refuse a record that the layout cannot hold, naming the field and value.

    Examples
    --------
    >>> rec = example_probe(); rec.direction = "sideways"
    >>> check_probe(rec)
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: probe 'ball.material.eigen.m.least0.+1': field 'direction' = 'sideways'; eigen probes are most or least
    """
    where = f"{what} {rec.probe_id!r}"
    if not isinstance(rec.probe_id, str) or not _ID.match(rec.probe_id):
        raise MRDError(f"{what}: field 'probe_id' = {rec.probe_id!r}; use letters, digits and _ . + - (<= 256)")
    if rec.probe not in PROBES:
        raise MRDError(f"{where}: field 'probe' = {rec.probe!r}; one of {', '.join(PROBES)}")
    if rec.direction not in DIRECTIONS[rec.probe]:
        raise MRDError(f"{where}: field 'direction' = {rec.direction!r}; {rec.probe} probes are "
                       f"{' or '.join(DIRECTIONS[rec.probe])}")  # fmt: skip
    r = np.asarray(rec.renders)
    if r.dtype != np.uint8 or r.ndim != 5 or r.shape[-1] != 3 or r.shape[0] < 1:
        raise MRDError(f"{where}: field 'renders' must be uint8 (R, V, H, W, 3), got {r.dtype} {r.shape}")
    if len(rec.render_seeds) != r.shape[0]:
        raise MRDError(f"{where}: field 'render_seeds' has {len(rec.render_seeds)} seeds for {r.shape[0]} renders")
    if rec.group not in rec.params:
        raise MRDError(f"{where}: field 'params' lacks the varied group {rec.group!r}")
    for name in ("step_size", "physical_distance"):
        v = getattr(rec, name)
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise MRDError(f"{where}: field {name!r} = {v!r}; give a finite number >= 0")
    for k, v in rec.distances.items():
        if not math.isfinite(float(v)):
            raise MRDError(f"{where}: field 'distances' [{k!r}] = {v!r}; give a finite number")


def _vec(group: h5py.Group, name: str, data: np.ndarray) -> None:
    _dataset(group, name, np.asarray(data, np.float64).ravel())


def write_probe(group: h5py.Group, rec: ProbeRecord) -> None:
    """Write a :class:`ProbeRecord` into ``group`` (checked first; every dataset checksummed)."""
    check_probe(rec)
    a = group.attrs
    for k in ("scene_id", "group", "probe", "model_id", "model_b", "direction", "metric", "tone_map"):
        a[k] = str(getattr(rec, k))
    a["rank"], a["step"] = int(rec.rank), int(rec.step)
    for k in ("step_size", "physical_distance", "eigenvalue", "eigenvalue_fd"):
        a[k] = float(getattr(rec, k))
    a["distances"] = json.dumps({k: float(v) for k, v in rec.distances.items()}, sort_keys=True)
    a["info"] = json.dumps(rec.info, sort_keys=True, default=_plain)
    r = np.asarray(rec.renders, np.uint8)
    _image(group, "display", r[0], "uint8")
    _image(group, "renders", r, "uint8")
    a["render_seeds"] = json.dumps([int(x) for x in rec.render_seeds])
    write_params(group.create_group("params"), rec.params)
    for name in ("spectrum", "vector", "curve_a", "curve_b"):
        _vec(group, name, getattr(rec, name))
    stamp_tree(group)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_probe(group: h5py.Group, images: bool = True) -> ProbeRecord:
    """Read a :class:`ProbeRecord` (``images=False``: ``renders`` is empty)."""
    a = group.attrs
    try:
        renders = read_dataset(group["renders"]) if images else np.zeros((0, 0, 0, 0, 3), np.uint8)
        return ProbeRecord(
            probe_id=group.name.rsplit("/", 1)[-1], scene_id=str(a["scene_id"]), group=str(a["group"]),
            probe=str(a["probe"]), model_id=str(a["model_id"]), direction=str(a["direction"]), renders=renders,
            render_seeds=read_render_seeds(group), params=read_params(group["params"]),
            model_b=str(a["model_b"]), rank=int(a["rank"]), step=int(a["step"]), step_size=float(a["step_size"]),
            physical_distance=float(a["physical_distance"]), metric=str(a["metric"]),
            eigenvalue=float(a["eigenvalue"]), eigenvalue_fd=float(a["eigenvalue_fd"]),
            spectrum=read_dataset(group["spectrum"]), vector=read_dataset(group["vector"]),
            curve_a=read_dataset(group["curve_a"]), curve_b=read_dataset(group["curve_b"]),
            distances={k: float(v) for k, v in json.loads(a["distances"]).items()}, tone_map=str(a["tone_map"]),
            info=json.loads(a["info"]),
        )  # fmt: skip
    except KeyError as exc:
        raise MRDError(f"{group.file.filename}: probe {group.name}: missing {exc.args[0]!r}") from None


def example_probe() -> ProbeRecord:
    """A small valid record (for doctests and tests of the layout).

    Examples
    --------
    >>> example_probe().renders.shape
    (2, 1, 4, 4, 3)
    """
    mat = {"base_color": np.array([0.5, 0.4, 0.3], np.float32), "roughness": np.float32(0.5)}
    return ProbeRecord(
        probe_id="ball.material.eigen.m.least0.+1", scene_id="ball", group="material", probe="eigen", model_id="m",
        direction="least", renders=np.zeros((2, 1, 4, 4, 3), np.uint8), render_seeds=[1, 2],
        params={"material": mat}, step=1, step_size=0.05, physical_distance=0.05, metric="material metric",
        eigenvalue=0.0, spectrum=np.array([1.0, 0.0]), vector=np.array([0.0, 1.0]), distances={"m": 0.01},
    )  # fmt: skip


def add_probe(writer: Any, rec: ProbeRecord) -> None:
    """Add a probe unit to a :class:`stimuli.StoreWriter` (durable on return; an existing id is a no-op).

    Its scene and every model it names must be in the store already.

    Examples
    --------
    >>> import os, tempfile
    >>> from stimuli import StoreWriter
    >>> with StoreWriter(os.path.join(tempfile.mkdtemp(), "s.h5"), config_text="x = 1") as w:
    ...     add_probe(w, example_probe())
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: probe 'ball.material.eigen.m.least0.+1': scene 'ball' is not in the store; add the scene first
    """
    check_probe(rec)
    what = f"probe {rec.probe_id!r}"
    if not writer.has_scene(rec.scene_id):
        raise MRDError(f"{what}: scene {rec.scene_id!r} is not in the store; add the scene first")
    for mid in [rec.model_id, rec.model_b, *rec.distances]:
        if mid and not writer.has_model(mid):
            raise MRDError(f"{what}: model {mid!r} is not in the store; add the model first")
    if not writer.has_unit("probe", rec.probe_id):
        writer.write_unit("probe", rec.probe_id, lambda g: write_probe(g, rec))
