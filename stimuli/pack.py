"""The pack step: move the journal's finished units into the store file, once, crash-safely.

HDF5 is not crash-consistent (a process killed while it updates a file can leave it unreadable), so
the store file is never modified in place. Packing copies ``SET.h5`` to ``SET.h5.pack.tmp``, adds the
journal units to the copy (kinds in :func:`stimuli.units.packing_order`, each kind in write order;
an id already stored is kept, a similarity replaces the one under the same model), re-stamps the
groups it changed, records the content digest combined from the stored per-unit hashes
(:func:`stimuli.digest.incremental_digest`: no image is re-read), fsyncs the copy and renames it
over ``SET.h5``; only then are the packed unit files deleted. A kill at any moment leaves either
the old ``SET.h5`` with the whole journal, or the new one (with, at worst, unit files that are
already in it, which the next writer drops). The cost is one copy of the store plus the units:
O(total) once per pack, never per unit.

Examples
--------
>>> import tempfile, os
>>> from stimuli.writer import StoreWriter
>>> from stimuli.testing import synthetic_model
>>> path = os.path.join(tempfile.mkdtemp(), "set.h5")
>>> w = StoreWriter(path, config_text="x = 1")
>>> w.add_model(synthetic_model())
>>> len(w.pending), w.pack(), len(w.pending)
(1, None, 0)
>>> w.close()
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py

from stimuli.checksum import group_sha256, stamp_group
from stimuli.digest import incremental_digest
from stimuli.errors import MRDError
from stimuli.fsutil import fsync_dir, fsync_file, space_error
from stimuli.journal import JournalUnit
from stimuli.units import KINDS, place


def pack_tmp(path: Path) -> Path:
    """The temporary file a pack writes before it replaces the store.

    Examples
    --------
    >>> pack_tmp(Path("/d/set.h5")).name
    'set.h5.pack.tmp'
    """
    return path.with_name(path.name + ".pack.tmp")


def in_store(f: h5py.File, unit: JournalUnit) -> bool:
    """Whether ``unit`` is already in the open store (so packing it again would change nothing).

    A unit with a folder is there when its id is; a similarity when the stored one has the same checksum.
    """
    with h5py.File(unit.path, "r") as uf:
        try:
            parent, name, replace = place(f, unit.kind, unit.uid, uf.attrs, create=False)
        except MRDError:
            return False
        if name not in parent:
            return False
        if not replace:
            return True
        stored = parent[name].attrs.get("sha256")
        return stored is not None and str(stored) == group_sha256(uf["unit"])


def _add_unit(f: h5py.File, unit: JournalUnit) -> str:
    """Copy one journal unit into the open store; return the group whose members changed."""
    with h5py.File(unit.path, "r") as uf:
        parent, name, replace = place(f, unit.kind, unit.uid, uf.attrs)
        if name in parent:
            if not replace:
                return parent.name
            del parent[name]
        uf.copy(uf["unit"], parent, name=name)
    return parent.name


def pack_units(path: Path, units: list[JournalUnit], progress: bool = False) -> None:
    """Pack ``units`` into the store ``path`` (atomic replace), then delete their files.

    Parameters
    ----------
    path : pathlib.Path
        The store file (it exists).
    units : list of JournalUnit
        Finished journal units.
    progress : bool
        Show a progress bar (bytes copied and packed) when there are 50 units or more.

    Raises
    ------
    stimuli.errors.MRDError
        On an OS error (a full disk), after removing the partial copy; the store and the journal
        are as they were.
    """
    from tqdm import tqdm

    if not units:
        return
    tmp = pack_tmp(path)
    order = sorted(units, key=lambda u: (KINDS[u.kind].order, u.seq))
    bar = tqdm(total=path.stat().st_size + sum(u.size for u in units), unit="B", unit_scale=True,
               desc=f"pack {len(units)} units into {path.name}", disable=not progress or len(order) < 50)
    try:
        tmp.unlink(missing_ok=True)
        shutil.copyfile(path, tmp)
        bar.update(path.stat().st_size)
        with h5py.File(tmp, "a") as f:
            touched = set()
            for unit in order:
                touched.add(_add_unit(f, unit))
                bar.update(unit.size)
            for name in sorted(touched, key=lambda n: -n.count("/")):
                stamp_group(f[name])
            f.attrs["content_digest"] = incremental_digest(f)
            stamp_group(f)
        fsync_file(tmp)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise space_error(exc, path, f"packing {len(units)} journal units") from None
        raise
    finally:
        bar.close()
    os.replace(tmp, path)
    fsync_dir(path.parent)
    for unit in units:
        unit.path.unlink(missing_ok=True)
