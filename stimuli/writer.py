"""Crash-safe writing of a stimulus set, at a cost per unit that does not grow with the set.

HDF5 is not crash-consistent: a process killed while it updates a file can leave the file
unreadable. The writer therefore never modifies the store in place:

1. Each unit (model, scene, metamer, or a similarity added by ``mrd score``; the kinds are the
   table :data:`stimuli.units.KINDS`) is built in memory and written as one small immutable file in
   the journal folder ``SET.h5.journal/`` (:mod:`stimuli.journal`: temporary name, fsync, rename).
   Adding a unit costs its own bytes only: nothing else is copied or re-hashed. The unit's
   per-unit hash (``image_digest``) is made then, from the checksums of its arrays.
2. The pack step (:mod:`stimuli.pack`) runs once, when the writer closes (``mrd generate`` and
   ``mrd score`` finishing, or ``mrd pack SET.h5``): the store is copied, the journal units are added
   to the copy, the content digest is combined from the per-unit hashes, the copy is fsync'd and
   atomically renamed over ``SET.h5``; only then are the unit files deleted. O(total) once per run.

``SET.h5`` is therefore always a complete, valid store (the state of its last pack) and the
journal holds complete units. Readers (:class:`stimuli.StimulusSet`) refuse a set whose journal
holds finished units, saying how to pack it, so no experiment records the digest of a set that is
still being written. Opening a writer again removes partial files, packs the units a killed run
left (dropping any that a kill just after a pack's rename left behind), and carries on; re-running
``mrd generate`` resumes. Only one writer may hold a store at a time (a lock file, removed again
when the writer closes).

A write that fails for lack of space (checked before writing, and ``ENOSPC`` while writing) raises
:class:`MRDError` saying how much is needed, removes its temporary file and leaves the last
complete store and the journal's complete units as they were. The check before a unit is written
also keeps room for the pack (a copy of the store plus the journal), so a set whose disk fills
up can still be packed. A store created by a writer that then fails before any unit was added is
removed again.

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
from stimuli.fsutil import free_bytes, fsync_dir, mib, release_lock, space_error, take_lock, write_new_file
from stimuli.journal import JournalUnit, build_unit, journal_dir, read_units, remove_partial, write_unit_file
from stimuli.pack import in_store, pack_tmp, pack_units
from stimuli.records import MetamerRecord, ModelRecord, SceneRecord, Similarity
from stimuli.schema import GROUP_PATTERN, GROUPS, SCHEMA_VERSION, check_id, check_schema_version
from stimuli.units import KINDS, folders
from stimuli.version import suite_version

__all__ = ["MAX_CONFIG_BYTES", "SPACE_MARGIN", "StoreWriter", "journal_dir", "sha256_text"]

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


class StoreWriter:
    """Create a stimulus set, or resume writing one, with crash-safe unit writes.

    Parameters
    ----------
    path : path-like
        The store file (``.h5``).
    config_text : str, optional
        The stimulus-set config (TOML text). Required to create a store; when resuming it must
        equal the stored config (same sha256), else :class:`MRDError`. ``None`` skips the check
        (used by ``mrd score``, which only adds similarities, and ``mrd pack``).
    progress : bool
        Show a progress bar (standard error) while packing 50 units or more.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "set.h5")
    >>> w = StoreWriter(path, config_text="x = 1")
    >>> w.close()
    >>> sorted(os.listdir(os.path.dirname(path)))  # no journal and no lock file left
    ['set.h5']
    """

    def __init__(self, path: str | os.PathLike[str], config_text: str | None = None, progress: bool = True) -> None:
        self.path = Path(path)
        self.journal = journal_dir(self.path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.progress = progress
        self._created = False
        self._added = 0
        self._journal_made = False
        self.pending: list[JournalUnit] = []
        """Finished units in the journal, not yet packed (write order)."""
        self._pending_bytes = 0
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
        remove_partial(self.journal)
        for stale in (pack_tmp(self.path), self.path.with_name(self.path.name + ".merge.tmp")):
            stale.unlink(missing_ok=True)  # (.merge.tmp: the name the writer before schema 1.2 used)
        units = read_units(self.journal)
        self._seq = max((u.seq for u in units), default=0)
        with h5py.File(self.path, "r") as f:
            left = [u for u in units if not in_store(f, u)]
        for u in units:  # a kill between a pack's rename and its clean-up leaves packed units behind
            if u not in left:
                u.path.unlink(missing_ok=True)
        self.pending = left
        self._pending_bytes = sum(u.size for u in left)
        self.pack()  # units a killed run left: packed now, so readers opened after this writer see them

    def _read_stored(self) -> None:
        with h5py.File(self.path, "r") as f:
            self._stored = {k.name: set(f[k.folder].keys()) if k.folder in f else set()
                            for k in KINDS.values() if k.folder is not None}
        self._pending_ids: dict[str, set[str]] = {k: set() for k in self._stored}

    def _create(self, config_text: str) -> None:
        size = len(config_text.encode("utf-8"))
        if size > MAX_CONFIG_BYTES:
            raise MRDError(f"{self.path}: the config text is {mib(size)}; a stimulus-set config may have at most "
                           f"{mib(MAX_CONFIG_BYTES)}")
        tmp = self.path.with_name(self.path.name + ".create.tmp")
        try:
            self._need(size, "create the store")
            bio = io.BytesIO()
            with h5py.File(bio, "w") as f:
                f.attrs["schema_version"] = SCHEMA_VERSION
                f.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds")
                f.attrs["suite_version"] = suite_version()
                f.attrs["config_text"] = config_text
                f.attrs["config_sha256"] = sha256_text(config_text)
                for group in folders():
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
    def has_unit(self, kind: str, uid: str) -> bool:
        """Whether a unit of ``kind`` (one with a folder: model, scene, metamer, ...) is stored or pending."""
        return uid in self._stored[kind] or uid in self._pending_ids[kind]

    def has_model(self, model_id: str) -> bool:
        """Whether the model is in the store or its journal."""
        return self.has_unit("model", model_id)

    def has_scene(self, scene_id: str) -> bool:
        """Whether the scene is in the store or its journal."""
        return self.has_unit("scene", scene_id)

    def has_metamer(self, metamer_id: str) -> bool:
        """Whether the metamer is complete in the store or its journal."""
        return self.has_unit("metamer", metamer_id)

    # -- adding units -------------------------------------------------------------------------
    def add_model(self, rec: ModelRecord) -> None:
        """Add a model (durable on return). Adding an existing id is a no-op."""
        check_id(rec.model_id, "model id")
        if not self.has_model(rec.model_id):
            self.write_unit("model", rec.model_id, lambda g: h5io.write_model(g, rec))

    def add_scene(self, rec: SceneRecord) -> None:
        """Add a target scene (durable on return). Adding an existing id is a no-op."""
        check_id(rec.scene_id, "scene id")
        check_scene(rec)
        if not self.has_scene(rec.scene_id):
            self.write_unit("scene", rec.scene_id, lambda g: h5io.write_scene(g, rec))

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
            self.write_unit("metamer", rec.metamer_id, lambda g: h5io.write_metamer(g, rec))

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
        self.write_unit(
            "similarity", f"{metamer_id}/{model_id}", lambda g: h5io.write_similarity(g, sim),
            metamer_id=metamer_id, model_id=model_id,
        )

    def write_unit(self, kind: str, uid: str, fill: Callable[[h5py.Group], None], **attrs: str) -> None:
        """Write one unit durably to the journal (the hook every ``add_*`` method uses).

        ``fill`` writes the unit's group in the store layout (an :mod:`stimuli.h5io` function);
        ``attrs`` are extra attributes of the unit file (what :func:`stimuli.units.place` needs).
        The caller checks the record first. Costs the unit's own bytes, whatever the set's size.
        """
        data = build_unit(kind, uid, fill, attrs)
        pack_room = self.path.stat().st_size + self._pending_bytes + len(data)
        self._need(len(data) + pack_room, f"write {kind} {uid!r} (keeping room to pack the set)")
        try:
            final = write_unit_file(self.journal, self._seq + 1, kind, data)
        except OSError as exc:
            raise space_error(exc, self.path, f"writing {kind} {uid!r}") from None
        self._seq += 1
        self._added += 1
        self.pending.append(JournalUnit(self._seq, kind, uid, final, len(data)))
        self._pending_bytes += len(data)
        if kind in self._pending_ids:
            self._pending_ids[kind].add(uid)

    # -- packing -------------------------------------------------------------------------------
    def pack(self) -> None:
        """Pack the journal's units into the store file (atomic replace; O(store) once), then drop them."""
        if self.pending:
            self._need(self.path.stat().st_size + self._pending_bytes, "pack the journal")
            pack_units(self.path, self.pending, progress=self.progress)
            self.pending, self._pending_bytes = [], 0
        self._read_stored()

    def close(self) -> None:
        """Pack what is pending and release the store (the journal folder and lock file go)."""
        try:
            self.pack()
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
            self.pack()
        except Exception:  # noqa: S110 - the journal keeps the units; the next writer packs them
            pass
        finally:
            self._discard_if_empty()
            self._release()
            self._remove_made_dirs()
