"""Crash-safe writing of a stimulus set.

HDF5 is not crash-consistent: a process killed while it updates a file can leave the file
unreadable. The writer therefore never modifies the store in place:

1. Each unit (model, scene, metamer, or a similarity added by ``mrd score``) is first written
   as a small HDF5 file in the journal folder ``SET.h5.journal/`` under a temporary name, fsync'd,
   and renamed into place. A unit file therefore either exists complete or not at all.
2. Periodically (every ``merge_every`` units, after ``merge_seconds``, and on close) the journal is
   merged: the store is copied to ``SET.h5.merge.tmp``, the journal units are added, the content
   digest is recomputed, the copy is fsync'd and atomically renamed over ``SET.h5``; only then are the
   merged unit files deleted.

After a crash at any point ``SET.h5`` is the last complete store (it validates and holds only
complete units) and the journal holds complete units not yet merged. Opening a writer again
removes temporary files, merges the journal (skipping units already present) and carries on, so
re-running ``mrd generate`` resumes. Only one writer may hold a store at a time (a lock file).

Examples
--------
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "set.h5")
>>> with StoreWriter(path, config_text="title = 'x'") as w:
...     w.has_metamer("m0")
False
>>> os.path.exists(path)
True
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import h5py
import numpy as np

from stimuli import h5io
from stimuli.digest import content_digest
from stimuli.errors import MRDError
from stimuli.fsutil import fsync_dir, fsync_file
from stimuli.records import MetamerRecord, ModelRecord, SceneRecord, Similarity
from stimuli.schema import GROUPS, SCHEMA_VERSION, SUPPORTED_MAJOR, check_id, major_of
from stimuli.version import suite_version

KIND_ORDER = {"model": 0, "scene": 1, "metamer": 2, "similarity": 3}
_PLURAL = {"model": "models", "scene": "scenes", "metamer": "metamers"}


def sha256_text(text: str) -> str:
    """sha256 of a text's UTF-8 bytes.

    Examples
    --------
    >>> sha256_text("")[:8]
    'e3b0c442'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def journal_dir(path: str | os.PathLike[str]) -> Path:
    """The journal folder that belongs to a store file.

    Examples
    --------
    >>> journal_dir("/data/set.h5").name
    'set.h5.journal'
    """
    p = Path(path)
    return p.with_name(p.name + ".journal")


class StoreWriter:
    """Create a stimulus set, or resume writing one, with crash-safe unit writes.

    Parameters
    ----------
    path : path-like
        The store file (``.h5``).
    config_text : str, optional
        The stimulus-set config (TOML text). Required to create a store; when resuming it must
        equal the stored config (same sha256), else :class:`MRDError`. ``None`` skips the check
        (used by ``mrd score``, which only adds similarities).
    merge_every : int
        Merge the journal into the store after this many units.
    merge_seconds : float
        Merge the journal when this much time has passed since the last merge.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "set.h5")
    >>> w = StoreWriter(path, config_text="x = 1")
    >>> w.close()
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        config_text: str | None = None,
        merge_every: int = 8,
        merge_seconds: float = 300.0,
    ) -> None:
        self.path = Path(path)
        self.journal = journal_dir(self.path)
        self.merge_every = max(1, int(merge_every))
        self.merge_seconds = float(merge_seconds)
        self._lock_file = open(self.path.with_name(self.path.name + ".lock"), "a")  # noqa: SIM115
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise MRDError(f"{self.path}: another process is writing this stimulus set") from None
        try:
            self._open(config_text)
        except BaseException:
            self._release()
            raise

    # -- opening -----------------------------------------------------------------------------
    def _open(self, config_text: str | None) -> None:
        if not self.path.exists():
            if config_text is None:
                raise MRDError(f"{self.path}: no such stimulus set (give a config to create one)")
            self._create(config_text)
        else:
            self._check_existing(config_text)
        self.journal.mkdir(exist_ok=True)
        for stale in list(self.journal.glob("*.tmp")) + [self.path.with_name(self.path.name + ".merge.tmp")]:
            stale.unlink(missing_ok=True)
        with h5py.File(self.path, "r") as f:
            self._stored = {k: set(f[p].keys()) for k, p in _PLURAL.items()}
        self._pending: dict[str, set[str]] = {k: set() for k in _PLURAL}
        self._units: list[Path] = []
        self._seq = 0
        for unit in sorted(self.journal.glob("*.h5")):
            self._seq = max(self._seq, int(unit.name.split("-")[0]))
            with h5py.File(unit, "r") as uf:
                kind, uid = str(uf.attrs["kind"]), str(uf.attrs["unit_id"])
            if kind in self._pending:
                self._pending[kind].add(uid)
            self._units.append(unit)
        self._last_merge = time.monotonic()
        if self._units:
            self.flush()

    def _create(self, config_text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".create.tmp")
        with h5py.File(tmp, "w") as f:
            f.attrs["schema_version"] = SCHEMA_VERSION
            f.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds")
            f.attrs["suite_version"] = suite_version()
            f.attrs["config_text"] = config_text
            f.attrs["config_sha256"] = sha256_text(config_text)
            for group in _PLURAL.values():
                f.create_group(group)
            f.attrs["content_digest"] = content_digest(f)
        fsync_file(tmp)
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)

    def _check_existing(self, config_text: str | None) -> None:
        try:
            f = h5py.File(self.path, "r")
        except OSError as exc:
            raise MRDError(f"{self.path}: not a readable HDF5 stimulus set ({exc})") from exc
        with f:
            version = f.attrs.get("schema_version")
            if version is None or major_of(str(version)) != SUPPORTED_MAJOR:
                raise MRDError(
                    f"{self.path}: schema_version {version!r} cannot be written by this suite "
                    f"(writes {SCHEMA_VERSION})"
                )
            if config_text is not None and f.attrs["config_sha256"] != sha256_text(config_text):
                raise MRDError(
                    f"{self.path}: was made from a different config (stored sha256 "
                    f"{f.attrs['config_sha256'][:12]}..., given {sha256_text(config_text)[:12]}...); "
                    "write to a new --out file, or restore the original config to resume"
                )

    # -- queries -------------------------------------------------------------------------------
    def _has(self, kind: str, uid: str) -> bool:
        return uid in self._stored[kind] or uid in self._pending[kind]

    def has_model(self, model_id: str) -> bool:
        """Whether the model is in the store or its journal."""
        return self._has("model", model_id)

    def has_scene(self, scene_id: str) -> bool:
        """Whether the scene is in the store or its journal."""
        return self._has("scene", scene_id)

    def has_metamer(self, metamer_id: str) -> bool:
        """Whether the metamer is complete in the store or its journal."""
        return self._has("metamer", metamer_id)

    # -- adding units -------------------------------------------------------------------------
    def add_model(self, rec: ModelRecord) -> None:
        """Add a model (durable on return). Adding an existing id is a no-op."""
        check_id(rec.model_id, "model id")
        if not self.has_model(rec.model_id):
            self._write_unit("model", rec.model_id, lambda g: h5io.write_model(g, rec))

    def add_scene(self, rec: SceneRecord) -> None:
        """Add a target scene (durable on return). Adding an existing id is a no-op."""
        check_id(rec.scene_id, "scene id")
        _check_images(rec.display, rec.hdr, f"scene {rec.scene_id!r}")
        if not self.has_scene(rec.scene_id):
            self._write_unit("scene", rec.scene_id, lambda g: h5io.write_scene(g, rec))

    def add_metamer(self, rec: MetamerRecord) -> None:
        """Add a complete metamer (durable on return). Adding an existing id is a no-op."""
        what = f"metamer {rec.metamer_id!r}"
        check_id(rec.metamer_id, "metamer id")
        if not self.has_scene(rec.scene_id):
            raise MRDError(f"{what}: scene {rec.scene_id!r} is not in {self.path}; add the scene first")
        if not self.has_model(rec.model_id):
            raise MRDError(f"{what}: model {rec.model_id!r} is not in {self.path}; add the model first")
        if rec.group not in GROUPS:
            raise MRDError(f"{what}: group {rec.group!r} is not one of {', '.join(GROUPS)}")
        if rec.model_id not in rec.similarity:
            raise MRDError(f"{what}: similarity under its own model {rec.model_id!r} is missing")
        _check_images(rec.display, rec.hdr, what)
        for mid, sim in rec.similarity.items():
            _check_similarity(sim, rec.display.shape[0], f"{what}, similarity {mid!r}")
        if not self.has_metamer(rec.metamer_id):
            self._write_unit("metamer", rec.metamer_id, lambda g: h5io.write_metamer(g, rec))

    def add_similarity(self, metamer_id: str, model_id: str, sim: Similarity) -> None:
        """Add (or replace) a metamer's similarity under another model (durable on return)."""
        if not self.has_metamer(metamer_id):
            raise MRDError(f"{self.path}: metamer {metamer_id!r} is not in the store")
        if not self.has_model(model_id):
            raise MRDError(f"{self.path}: model {model_id!r} is not in the store; add the model first")
        _check_similarity(sim, sim.cosine.shape[0], f"metamer {metamer_id!r}, similarity {model_id!r}")
        self._write_unit(
            "similarity", f"{metamer_id}/{model_id}", lambda g: h5io.write_similarity(g, sim),
            metamer_id=metamer_id, model_id=model_id,
        )

    def _write_unit(self, kind: str, uid: str, fill: Callable[[h5py.Group], None], **attrs: str) -> None:
        self._seq += 1
        final = self.journal / f"{self._seq:08d}-{kind}.h5"
        tmp = final.with_name(final.name + ".tmp")
        with h5py.File(tmp, "w") as uf:
            uf.attrs["kind"], uf.attrs["unit_id"] = kind, uid
            for key, value in attrs.items():
                uf.attrs[key] = value
            fill(uf.create_group("unit"))
        fsync_file(tmp)
        os.replace(tmp, final)
        fsync_dir(self.journal)
        if kind in self._pending:
            self._pending[kind].add(uid)
        self._units.append(final)
        due = time.monotonic() - self._last_merge >= self.merge_seconds
        if len(self._units) >= self.merge_every or due:
            self.flush()

    # -- merging -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Merge the journal into the store file (atomic replace), then empty the journal."""
        if not self._units:
            return
        tmp = self.path.with_name(self.path.name + ".merge.tmp")
        shutil.copyfile(self.path, tmp)
        units = sorted(self._units, key=lambda u: (KIND_ORDER[u.name.split("-")[1][:-3]], u.name))
        with h5py.File(tmp, "a") as f:
            for unit in units:
                with h5py.File(unit, "r") as uf:
                    _merge_unit(f, uf)
            f.attrs["content_digest"] = content_digest(f)
        fsync_file(tmp)
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)
        for unit in units:
            unit.unlink(missing_ok=True)
        for kind in self._pending:
            self._stored[kind] |= self._pending[kind]
            self._pending[kind] = set()
        self._units = []
        self._last_merge = time.monotonic()

    def close(self) -> None:
        """Merge what is pending and release the store."""
        try:
            self.flush()
            if self.journal.exists() and not any(self.journal.iterdir()):
                self.journal.rmdir()
        finally:
            self._release()

    def _release(self) -> None:
        if not self._lock_file.closed:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _merge_unit(f: h5py.File, uf: h5py.File) -> None:
    kind, uid = str(uf.attrs["kind"]), str(uf.attrs["unit_id"])
    if kind == "similarity":
        mid, model_id = str(uf.attrs["metamer_id"]), str(uf.attrs["model_id"])
        sims = f["metamers"][mid]["similarity"]
        if model_id in sims:
            del sims[model_id]
        uf.copy(uf["unit"], sims, name=model_id)
        return
    dest = f[_PLURAL[kind]]
    if uid not in dest:
        uf.copy(uf["unit"], dest, name=uid)


def _check_images(display: np.ndarray, hdr: np.ndarray, what: str) -> None:
    if display.ndim != 4 or display.shape[-1] != 3 or display.dtype != np.uint8:
        raise MRDError(f"{what}: display must be uint8 (V, H, W, 3), got {display.dtype} {display.shape}")
    if hdr.shape != display.shape:
        raise MRDError(f"{what}: hdr shape {hdr.shape} differs from display shape {display.shape}")


def _check_similarity(sim: Similarity, n_views: int, what: str) -> None:
    n_layers = len(sim.layers)
    for name in ("cosine", "rel_l2"):
        arr = np.asarray(getattr(sim, name))
        if arr.shape != (n_views, n_layers):
            raise MRDError(f"{what}: {name} must have shape (views, layers) = {(n_views, n_layers)}, got {arr.shape}")
    for name in ("null_cosine", "null_rel_l2"):
        arr = np.asarray(getattr(sim, name))
        if arr.ndim != 2 or arr.shape[1] != n_layers:
            raise MRDError(f"{what}: {name} must have shape (K, layers={n_layers}), got {arr.shape}")
