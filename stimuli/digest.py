"""The content digest: sha256 over every display image a participant could see.

The digest covers each scene's and each metamer's ``display`` dataset followed, where present, by
its ``renders`` dataset (the independent display renders); :data:`stimuli.units.KINDS` names the
covered datasets per kind. It does not depend on compression, chunking, attribute order, write
order, packing or on when the file was written. Experiment sessions record it; analysis recomputes it
from the images and refuses sessions whose digest differs. Three forms, by the store's schema version:

* **1.2** (incremental): every unit with covered datasets carries ``image_digest``, sha256 over, per
  covered dataset present, ``"{name}:{shape}\\0"`` followed by the dataset's checksum (64 hex
  characters: sha256 over dtype, shape and bytes, :mod:`stimuli.checksum`). The content digest is
  sha256 over ``"{folder}/{id}\\0{image_digest}\\n"`` for every such unit, sorted by (folder, id) as
  Python sorts strings. A unit's hash is made once, when the unit is written, from the checksums
  made from its arrays; the pack step combines the stored hashes (:func:`incremental_digest`), so adding
  a unit never re-reads another unit's images.
* **1.1**: sha256 over, per dataset, ``"{kind}/{id}/{name}:{shape}\\0"`` followed by the dataset's
  checksum, scenes then metamers, ids sorted.
* **1.0** (stores written before checksums): sha256 over ``"{kind}/{id}:{shape}\\0"`` followed by the
  raw bytes of each ``display`` dataset. Kept as it was, so recorded sessions still match.

:func:`content_digest` computes the digest from the stored dataset checksums (what the writer
records); :func:`verify_images` recomputes every checksum from the bytes.

Examples
--------
>>> import h5py, numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "d.h5")
>>> with h5py.File(path, "w") as f:
...     f.attrs["schema_version"] = "1.2"
...     _ = f.create_group("scenes").create_group("s").create_dataset("display", data=np.zeros((1, 2, 2, 3), np.uint8))
...     _ = f.create_group("metamers")
...     len(content_digest(f))
64
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import h5py
import numpy as np

from stimuli.checksum import iter_slabs, scan_dataset
from stimuli.errors import MRDError
from stimuli.units import image_kinds

DIGEST_DATASETS = ("display", "renders")
"""Datasets of a unit covered by the 1.1 digest, in the order they enter it."""
UNIT_DIGEST_ATTR = "image_digest"
"""Attribute of a scene or metamer group holding its per-unit hash (schema 1.2)."""

Checksums = Callable[[h5py.Dataset], "str | None"]


def digest_form(f: h5py.File) -> str:
    """``"1.2"`` (per-unit hashes), ``"1.1"`` (checksum form) or ``"1.0"`` (byte form), by schema version."""
    version = f.attrs.get("schema_version")
    version = version.decode() if isinstance(version, bytes) else str(version)
    try:
        major, minor = (int(x) for x in version.split(".")[:2])
    except ValueError:
        return "1.0"
    if (major, minor) >= (1, 2):
        return "1.2"
    return "1.1" if (major, minor) >= (1, 1) else "1.0"


def digest_items(f: h5py.File) -> Iterator[tuple[str, str, str, h5py.Dataset]]:
    """``(kind, uid, name, dataset)`` for every dataset the 1.0 / 1.1 digest covers, in digest order."""
    names = ("display",) if digest_form(f) == "1.0" else DIGEST_DATASETS
    for kind in ("scenes", "metamers"):
        if kind not in f:
            continue
        for uid in sorted(f[kind].keys()):
            unit = f[kind][uid]
            if not isinstance(unit, h5py.Group):
                continue
            for name in names:
                ds = unit.get(name)
                if isinstance(ds, h5py.Dataset):
                    yield kind, uid, name, ds


def image_units(f: h5py.File) -> Iterator[tuple[str, str, h5py.Group, tuple[str, ...]]]:
    """``(folder, uid, group, covered names)`` of every unit the 1.2 digest covers, in digest order."""
    kinds = sorted(image_kinds(), key=lambda k: str(k.folder))
    for k in kinds:
        folder = str(k.folder)
        if not isinstance(f.get(folder), h5py.Group):
            continue
        for uid in sorted(f[folder].keys()):
            g = f[folder][uid]
            if isinstance(g, h5py.Group):
                yield folder, uid, g, k.images


def unit_digest(group: h5py.Group, names: Iterable[str], checksums: Checksums) -> str | None:
    """The per-unit hash (1.2) of ``group`` over its datasets ``names``, from a checksum per dataset.

    Examples
    --------
    >>> import io
    >>> with h5py.File(io.BytesIO(), "w") as f:
    ...     ds = f.create_dataset("display", data=np.zeros((1, 2, 2, 3), np.uint8))
    ...     unit_digest(f, ("display", "renders"), lambda d: "0" * 64)[:12]
    '1de56784b352'
    """
    h = hashlib.sha256()
    for name in names:
        ds = group.get(name)
        if isinstance(ds, h5py.Dataset):
            sha = checksums(ds)
            if sha is None:
                return None
            h.update(f"{name}:{tuple(int(n) for n in ds.shape)}\0{sha}".encode())
    return h.hexdigest()


def combine(entries: Iterable[tuple[str, str, str]]) -> str:
    """The 1.2 content digest from ``(folder, uid, image_digest)`` entries (any order: they are sorted).

    Examples
    --------
    >>> a = combine([("scenes", "s", "1" * 64), ("metamers", "m", "2" * 64)])
    >>> a == combine([("metamers", "m", "2" * 64), ("scenes", "s", "1" * 64)])
    True
    """
    h = hashlib.sha256()
    for folder, uid, sha in sorted(entries):
        h.update(f"{folder}/{uid}\0{sha}\n".encode())
    return h.hexdigest()


def digest_from_checksums(f: h5py.File, checksums: Checksums) -> str | None:
    """The 1.1 or 1.2 digest from a checksum per dataset (``None`` from ``checksums`` makes it ``None``)."""
    if digest_form(f) == "1.2":
        entries = []
        for folder, uid, g, names in image_units(f):
            sha = unit_digest(g, names, checksums)
            if sha is None:
                return None
            entries.append((folder, uid, sha))
        return combine(entries)
    h = hashlib.sha256()
    for kind, uid, name, ds in digest_items(f):
        sha = checksums(ds)
        if sha is None:
            return None
        h.update(f"{kind}/{uid}/{name}:{tuple(int(n) for n in ds.shape)}\0{sha}".encode())
    return h.hexdigest()


def _bytes_digest(f: h5py.File, progress: Callable[[int], Any] | None) -> str:
    h = hashlib.sha256()
    for kind, uid, _name, ds in digest_items(f):
        h.update(f"{kind}/{uid}:{tuple(ds.shape)}\0".encode())
        try:
            for _, block in iter_slabs(ds):
                raw = np.asarray(block).astype("uint8", copy=False).tobytes()
                h.update(raw)
                if progress is not None:
                    progress(len(raw))
        except (OSError, RuntimeError, ValueError) as exc:
            raise MRDError(f"{f.filename}: {ds.name} cannot be read ({exc}); the file is damaged") from None
    return h.hexdigest()


def stored_checksum(ds: h5py.Dataset) -> str:
    """A dataset's stored ``sha256`` (hashed from its bytes where it has none)."""
    sha = ds.attrs.get("sha256")
    if sha is None:
        scan = scan_dataset(ds)
        if scan.error:
            raise MRDError(f"{ds.file.filename}: {ds.name} {scan.error}; the file is damaged")
        return str(scan.sha256)
    return str(sha)


def content_digest(f: h5py.File) -> str:
    """The content digest of an open store, from the datasets' stored checksums.

    For 1.1 and 1.2 stores it is built from the stored checksums (a dataset without one is hashed
    from its bytes), so it is cheap; :func:`verify_images` is the reader's check that the bytes still
    give those checksums. On a packed 1.2 store it equals :func:`incremental_digest`, which the writer records.

    Parameters
    ----------
    f : h5py.File
        An open stimulus-set file (read or write mode).

    Returns
    -------
    str
        64 hexadecimal characters.
    """
    if digest_form(f) == "1.0":
        return _bytes_digest(f, None)
    return str(digest_from_checksums(f, stored_checksum))


def incremental_digest(f: h5py.File) -> str:
    """What the pack step records: the stored per-unit hashes combined (1.2; older forms: :func:`content_digest`).

    Reads one attribute per unit and no dataset (a unit without ``image_digest`` gets it from its
    datasets' checksums), so packing never re-hashes images.
    """
    if digest_form(f) != "1.2":
        return content_digest(f)
    entries = []
    for folder, uid, g, names in image_units(f):
        sha = g.attrs.get(UNIT_DIGEST_ATTR)
        entries.append((folder, uid, str(sha) if sha is not None else str(unit_digest(g, names, stored_checksum))))
    return combine(entries)


def stamp_unit_digest(group: h5py.Group, names: Iterable[str]) -> None:
    """Set ``image_digest`` of a freshly written unit from its datasets' checksums (made from its arrays)."""
    group.attrs[UNIT_DIGEST_ATTR] = str(unit_digest(group, names, stored_checksum))


def verify_images(f: h5py.File, progress: Callable[[int], Any] | None = None) -> tuple[str, list[str]]:
    """Recompute the digest from the image bytes; return it and the objects whose bytes changed.

    Parameters
    ----------
    f : h5py.File
        The open store.
    progress : callable, optional
        Called with the number of bytes read after each dataset (e.g. a tqdm bar's ``update``).

    Returns
    -------
    digest : str
        The digest the images give now (compare it with the stored ``content_digest``).
    changed : list of str
        HDF5 paths of image datasets whose bytes no longer match their own checksum (1.1, 1.2), and
        of units whose images no longer give their stored ``image_digest`` (1.2).

    Raises
    ------
    stimuli.errors.MRDError
        When an image dataset cannot be read (a damaged chunk), naming it.
    """
    if digest_form(f) == "1.0":
        return _bytes_digest(f, progress), []
    changed: list[str] = []

    def recompute(ds: h5py.Dataset) -> str:
        scan = scan_dataset(ds)
        if scan.error or scan.sha256 is None:
            raise MRDError(f"{f.filename}: {ds.name} {scan.error}; the file is damaged")
        if ds.attrs.get("sha256") not in (None, scan.sha256):
            changed.append(ds.name)
        if progress is not None:
            progress(int(ds.size))
        return scan.sha256

    if digest_form(f) == "1.1":
        return str(digest_from_checksums(f, recompute)), changed
    entries = []
    for folder, uid, g, names in image_units(f):
        sha = str(unit_digest(g, names, recompute))
        if g.attrs.get(UNIT_DIGEST_ATTR) not in (None, sha):
            changed.append(g.name)
        entries.append((folder, uid, sha))
    return combine(entries), changed


def digest_bytes(f: h5py.File) -> int:
    """How many image bytes :func:`verify_images` reads (for a progress bar)."""
    if digest_form(f) == "1.2":
        return sum(int(g[n].size) for *_, g, names in image_units(f) for n in names
                   if isinstance(g.get(n), h5py.Dataset))
    return sum(int(ds.size) for *_, ds in digest_items(f))
