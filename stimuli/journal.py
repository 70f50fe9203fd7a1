"""The journal of a stimulus set: finished units, one small immutable HDF5 file each.

While a set is written, every unit goes to ``SET.h5.journal/NNNNNNNN-KIND.h5`` (a sequence number
and the unit kind): the unit is built in memory, written under a temporary name (``.tmp``),
fsync'd, renamed into place and the folder fsync'd, so a unit file either exists complete or not at
all, and writing one costs only its own bytes, however many units the set already has. A unit
file holds the root attributes ``kind``, ``unit_id`` (plus, for a similarity, ``metamer_id`` and
``model_id``) and the unit's group ``/unit`` in the store layout, checksums and ``image_digest``
included. :mod:`stimuli.pack` moves journal units into the store file.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp()) / "set.h5.journal"; folder.mkdir()
>>> data = build_unit("model", "toy", lambda g: g.attrs.__setitem__("name", "x"), {})
>>> write_unit_file(folder, 1, "model", data).name
'00000001-model.h5'
>>> [(u.seq, u.kind, u.uid) for u in read_units(folder)]
[(1, 'model', 'toy')]
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py

from stimuli.checksum import stamp_group
from stimuli.digest import stamp_unit_digest
from stimuli.errors import MRDError
from stimuli.fsutil import fsync_dir, write_new_file
from stimuli.units import kind as unit_kind


def journal_dir(path: str | os.PathLike[str]) -> Path:
    """The journal folder that belongs to a store file.

    Examples
    --------
    >>> journal_dir("/data/set.h5").name
    'set.h5.journal'
    """
    p = Path(path)
    return p.with_name(p.name + ".journal")


@dataclass(frozen=True)
class JournalUnit:
    """A finished unit file in the journal.

    Attributes
    ----------
    seq : int
        Its sequence number (write order).
    kind : str
        Its kind (:data:`stimuli.units.KINDS`).
    uid : str
        Its id (``metamer_id/model_id`` for a similarity).
    path : pathlib.Path
        The file.
    size : int
        Bytes on disk.
    """

    seq: int
    kind: str
    uid: str
    path: Path
    size: int


def build_unit(kind: str, uid: str, fill: Callable[[h5py.Group], None], attrs: Mapping[str, str]) -> bytes:
    """A unit file's bytes, built in memory: ``fill`` writes the unit's group, then its ``image_digest``.

    Examples
    --------
    >>> len(build_unit("model", "toy", lambda g: None, {})) > 0
    True
    """
    k = unit_kind(kind)
    bio = io.BytesIO()  # built in memory: the disk only sees plain writes of finished bytes
    with h5py.File(bio, "w") as uf:
        uf.attrs["kind"], uf.attrs["unit_id"] = kind, uid
        for key, value in attrs.items():
            uf.attrs[key] = value
        group = uf.create_group("unit")
        fill(group)
        if k.images:
            stamp_unit_digest(group, k.images)
            stamp_group(group)
    return bytes(bio.getbuffer())


def unit_file_name(seq: int, kind: str) -> str:
    """File name of unit ``seq`` of ``kind``.

    Examples
    --------
    >>> unit_file_name(12, "metamer")
    '00000012-metamer.h5'
    """
    return f"{seq:08d}-{kind}.h5"


def write_unit_file(folder: Path, seq: int, kind: str, data: bytes) -> Path:
    """Write a unit file durably (temporary name, fsync, rename, fsync of the folder); return its path.

    An ``OSError`` (a full disk) leaves no partial file behind.
    """
    final = folder / unit_file_name(seq, kind)
    tmp = final.with_name(final.name + ".tmp")
    tmp.unlink(missing_ok=True)
    write_new_file(tmp, data)
    os.replace(tmp, final)
    fsync_dir(folder)
    return final


def unit_files(folder: Path) -> list[Path]:
    """Finished unit files in ``folder`` (none when it does not exist), in write order.

    Examples
    --------
    >>> unit_files(Path("/nonexistent.journal"))
    []
    """
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.endswith(".h5") and not p.name.startswith("."))


def read_units(folder: Path) -> list[JournalUnit]:
    """Every finished unit in ``folder``, in write order; :class:`MRDError` naming one that cannot be read."""
    out = []
    for path in unit_files(folder):
        try:
            seq = int(path.name.split("-")[0])
            with h5py.File(path, "r") as uf:
                kind, uid = str(uf.attrs["kind"]), str(uf.attrs["unit_id"])
            unit_kind(kind)
        except (OSError, KeyError, ValueError, MRDError) as exc:
            raise MRDError(
                f"{path}: journal unit cannot be read ({exc}); move it out of {folder} to resume"
            ) from None
        out.append(JournalUnit(seq, kind, uid, path, path.stat().st_size))
    return out


def remove_partial(folder: Path) -> None:
    """Remove partial unit files (``*.tmp``) a killed writer left in ``folder``."""
    if folder.is_dir():
        for stale in folder.glob("*.tmp"):
            stale.unlink(missing_ok=True)
