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
re-running ``mrd generate`` resumes. Only one writer may hold a store at a time (a lock file,
removed again when the writer closes).

A write that fails for lack of space (checked before writing, and ``ENOSPC`` while writing) raises
:class:`MRDError` saying how much is needed, removes its temporary file and leaves the last
complete store (and the journal's complete units) as they were. A unit is built in memory and
written with plain ``os.write`` calls, so a full disk is an ordinary error there, never a crash inside
HDF5. A store created by a writer that then fails before any unit was added is removed again.

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

import hashlib
import io
import os
import re
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import h5py

from stimuli import h5io
from stimuli.checks import check_finite, check_metamer, check_scene, check_similarity
from stimuli.checksum import stamp_group
from stimuli.digest import content_digest
from stimuli.errors import MRDError
from stimuli.fsutil import (
    free_bytes,
    fsync_dir,
    fsync_file,
    mib,
    release_lock,
    space_error,
    take_lock,
    write_new_file,
)
from stimuli.records import MetamerRecord, ModelRecord, SceneRecord, Similarity
from stimuli.schema import GROUP_PATTERN, GROUPS, SCHEMA_VERSION, check_id, check_schema_version
from stimuli.version import suite_version

KIND_ORDER = {"model": 0, "scene": 1, "metamer": 2, "similarity": 3}
_PLURAL = {"model": "models", "scene": "scenes", "metamer": "metamers"}
MAX_CONFIG_BYTES = 4 << 20
"""Largest config text a store records (a config is a short TOML file)."""
SPACE_MARGIN = 4 << 20
"""Bytes kept free beyond what a write needs (HDF5 metadata, the folder entry)."""


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
    >>> sorted(os.listdir(os.path.dirname(path)))  # no journal and no lock file left
    ['set.h5']
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
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.merge_every = max(1, int(merge_every))
        self.merge_seconds = float(merge_seconds)
        self._created = False
        self._added = 0
        self._journal_made = False
        self._units: list[Path] = []
        self._made_dirs = [d for d in [*self.path.parent.parents][::-1] + [self.path.parent] if not d.exists()]
        if self._made_dirs and config_text is None:
            raise MRDError(f"{self.path}: no such stimulus set (its folder does not exist)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = take_lock(self.lock_path, f"{self.path}: another process is writing this stimulus set")
        try:
            self._open(config_text)
        except BaseException:
            self._discard_if_empty()
            self._release()
            self._remove_made_dirs()
            raise

    # -- opening -----------------------------------------------------------------------------
    def _open(self, config_text: str | None) -> None:
        if not self.path.exists():
            if config_text is None:
                raise MRDError(f"{self.path}: no such stimulus set (give a config to create one)")
            self._create(config_text)
        else:
            self._check_existing(config_text)
        if not self.journal.exists():
            self.journal.mkdir()
            self._journal_made = True
        for stale in list(self.journal.glob("*.tmp")) + [self.path.with_name(self.path.name + ".merge.tmp")]:
            stale.unlink(missing_ok=True)
        with h5py.File(self.path, "r") as f:
            self._stored = {k: set(f[p].keys()) for k, p in _PLURAL.items()}
        self._pending: dict[str, set[str]] = {k: set() for k in _PLURAL}
        self._seq = 0
        for unit in sorted(self.journal.glob("*.h5")):
            try:
                seq = int(unit.name.split("-")[0])
                with h5py.File(unit, "r") as uf:
                    kind, uid = str(uf.attrs["kind"]), str(uf.attrs["unit_id"])
            except (OSError, KeyError, ValueError) as exc:
                raise MRDError(
                    f"{unit}: journal unit cannot be read ({exc}); move it out of {self.journal} to resume"
                ) from None
            self._seq = max(self._seq, seq)
            if kind in self._pending:
                self._pending[kind].add(uid)
            self._units.append(unit)
        self._last_merge = time.monotonic()
        if self._units:
            self.flush()

    def _create(self, config_text: str) -> None:
        size = len(config_text.encode("utf-8"))
        if size > MAX_CONFIG_BYTES:
            raise MRDError(f"{self.path}: the config text is {mib(size)}; a stimulus-set config may have at most "
                           f"{mib(MAX_CONFIG_BYTES)}")
        tmp = self.path.with_name(self.path.name + ".create.tmp")
        try:
            self._need(len(config_text.encode("utf-8")), "create the store")
            bio = io.BytesIO()
            with h5py.File(bio, "w") as f:
                f.attrs["schema_version"] = SCHEMA_VERSION
                f.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds")
                f.attrs["suite_version"] = suite_version()
                f.attrs["config_text"] = config_text
                f.attrs["config_sha256"] = sha256_text(config_text)
                for group in _PLURAL.values():
                    stamp_group(f.create_group(group))
                f.attrs["content_digest"] = content_digest(f)
                stamp_group(f)
            tmp.unlink(missing_ok=True)
            write_new_file(tmp, bio.getvalue())
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise space_error(exc, self.path, "creating the store") from None
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)
        self._created = True

    def _check_existing(self, config_text: str | None) -> None:
        try:
            f = h5py.File(self.path, "r")
        except OSError as exc:
            raise MRDError(f"{self.path}: not a readable HDF5 stimulus set ({exc})") from exc
        with f:
            check_schema_version(f.attrs.get("schema_version"), self.path, writing=True)
            if config_text is not None and f.attrs["config_sha256"] != sha256_text(config_text):
                raise MRDError(
                    f"{self.path}: was made from a different config (stored sha256 "
                    f"{f.attrs['config_sha256'][:12]}..., given {sha256_text(config_text)[:12]}...); "
                    "write to a new --out file, or restore the original config to resume"
                )

    def _need(self, n_bytes: int, doing: str) -> None:
        need = int(n_bytes * 1.05) + SPACE_MARGIN
        free = free_bytes(self.path.parent)
        if free < need:
            raise MRDError(
                f"{self.path.parent}: not enough free space to {doing} for {self.path.name}: needs about "
                f"{mib(need)}, {mib(free)} free. Nothing was written; {self.path.name} is the last complete "
                "store. Free some space and re-run the same command to carry on"
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
        check_scene(rec)
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
        if rec.group not in GROUPS and not (isinstance(rec.group, str) and re.fullmatch(GROUP_PATTERN, rec.group)):
            raise MRDError(f"{what}: group {rec.group!r} is not a parameter-group name (shipped: {', '.join(GROUPS)})")
        if rec.model_id not in rec.similarity:
            raise MRDError(f"{what}: similarity under its own model {rec.model_id!r} is missing")
        check_metamer(rec)
        if not self.has_metamer(rec.metamer_id):
            self._write_unit("metamer", rec.metamer_id, lambda g: h5io.write_metamer(g, rec))

    def add_similarity(self, metamer_id: str, model_id: str, sim: Similarity) -> None:
        """Add (or replace) a metamer's similarity under another model (durable on return)."""
        if not self.has_metamer(metamer_id):
            raise MRDError(f"{self.path}: metamer {metamer_id!r} is not in the store")
        if not self.has_model(model_id):
            raise MRDError(f"{self.path}: model {model_id!r} is not in the store; add the model first")
        what = f"metamer {metamer_id!r}, similarity {model_id!r}"
        check_similarity(sim, sim.cosine.shape[0], what)
        for name in ("cosine", "rel_l2", "null_cosine", "null_rel_l2"):
            check_finite(getattr(sim, name), f"{what}: {name}")
        self._write_unit(
            "similarity", f"{metamer_id}/{model_id}", lambda g: h5io.write_similarity(g, sim),
            metamer_id=metamer_id, model_id=model_id,
        )

    def _write_unit(self, kind: str, uid: str, fill: Callable[[h5py.Group], None], **attrs: str) -> None:
        bio = io.BytesIO()  # built in memory: the disk only sees plain writes of finished bytes
        with h5py.File(bio, "w") as uf:
            uf.attrs["kind"], uf.attrs["unit_id"] = kind, uid
            for key, value in attrs.items():
                uf.attrs[key] = value
            fill(uf.create_group("unit"))
        data = bio.getbuffer()
        self._need(len(data), f"write {kind} {uid!r}")
        self._seq += 1
        final = self.journal / f"{self._seq:08d}-{kind}.h5"
        tmp = final.with_name(final.name + ".tmp")
        try:
            write_new_file(tmp, data)
        except OSError as exc:
            self._seq -= 1
            raise space_error(exc, self.path, f"writing {kind} {uid!r}") from None
        os.replace(tmp, final)
        fsync_dir(self.journal)
        self._added += 1
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
        units = sorted(self._units, key=lambda u: (KIND_ORDER[u.name.split("-")[1][:-3]], u.name))
        self._need(self.path.stat().st_size + sum(u.stat().st_size for u in units), "merge the journal")
        try:
            shutil.copyfile(self.path, tmp)
            with h5py.File(tmp, "a") as f:
                touched = set()
                for unit in units:
                    with h5py.File(unit, "r") as uf:
                        touched.add(_merge_unit(f, uf))
                for name in sorted(touched):
                    stamp_group(f[name])
                f.attrs["content_digest"] = content_digest(f)
                stamp_group(f)
            fsync_file(tmp)
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise space_error(exc, self.path, f"merging {len(units)} journal units") from None
            raise
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
        """Merge what is pending and release the store (the journal folder and lock file go)."""
        try:
            self.flush()
            if self.journal.exists() and not any(self.journal.iterdir()):
                self.journal.rmdir()
        finally:
            self._release()

    def _discard_if_empty(self) -> None:
        """Remove what this writer created when it added nothing: a refused run leaves no files."""
        if self._journal_made and self.journal.exists() and not any(self.journal.iterdir()):
            self.journal.rmdir()
        if self._created and self._added == 0:
            self.path.unlink(missing_ok=True)

    def _remove_made_dirs(self) -> None:
        if self._created and self._added == 0:
            for d in self._made_dirs[::-1]:
                if d.is_dir() and not any(d.iterdir()):
                    d.rmdir()

    def _release(self) -> None:
        release_lock(self._lock_file, self.lock_path)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if et is None:
            self.close()
            return
        try:  # keep finished work; the original error is what the caller needs to see
            self.flush()
        except Exception:  # noqa: S110 - the journal keeps the units; the next writer merges them
            pass
        finally:
            self._discard_if_empty()
            self._release()
            self._remove_made_dirs()


def _merge_unit(f: h5py.File, uf: h5py.File) -> str:
    """Copy one journal unit into the open store; return the folder whose members changed."""
    kind, uid = str(uf.attrs["kind"]), str(uf.attrs["unit_id"])
    if kind == "similarity":
        mid, model_id = str(uf.attrs["metamer_id"]), str(uf.attrs["model_id"])
        sims = f["metamers"][mid]["similarity"]
        if model_id in sims:
            del sims[model_id]
        uf.copy(uf["unit"], sims, name=model_id)
        return sims.name
    dest = f[_PLURAL[kind]]
    if uid not in dest:
        uf.copy(uf["unit"], dest, name=uid)
    return dest.name
