"""The content digest: sha256 over every display image a participant could see.

The digest covers, in sorted id order, each scene's and then each metamer's ``display`` dataset
followed, where present, by its ``renders`` dataset (the independent display renders). It does not
depend on compression, chunking, attribute order or on when the file was written, so it is stable
across re-opening and re-packing. Experiment sessions record it; analysis recomputes it from the
images and refuses sessions whose digest differs. Two forms, by the store's schema version:

* **1.1** (built from per-dataset checksums, :mod:`stimuli.checksum`): sha256 over, per dataset,
  ``"{kind}/{id}/{name}:{shape}\\0"`` followed by the dataset's checksum (64 hex characters, itself
  sha256 over dtype, shape and bytes). The writer computes it at each merge from the checksums it
  made, without re-reading images; :func:`verify_images` recomputes every checksum from the bytes.
* **1.0** (stores written before checksums): sha256 over ``"{kind}/{id}:{shape}\\0"`` followed by the
  raw bytes of each ``display`` dataset. Kept as it was, so recorded sessions still match.

Examples
--------
>>> import h5py, numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "d.h5")
>>> with h5py.File(path, "w") as f:
...     _ = f.create_group("scenes").create_group("s").create_dataset("display", data=np.zeros((1, 2, 2, 3), np.uint8))
...     _ = f.create_group("metamers")
...     len(content_digest(f))
64
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import h5py
import numpy as np

from stimuli.checksum import iter_slabs, scan_dataset
from stimuli.errors import MRDError

DIGEST_DATASETS = ("display", "renders")
"""Datasets of a unit covered by the digest, in the order they enter it."""


def digest_form(f: h5py.File) -> str:
    """``"1.1"`` (checksum form) or ``"1.0"`` (byte form), from the store's schema version."""
    version = f.attrs.get("schema_version")
    version = version.decode() if isinstance(version, bytes) else str(version)
    try:
        major, minor = (int(x) for x in version.split(".")[:2])
    except ValueError:
        return "1.0"
    return "1.1" if (major, minor) >= (1, 1) else "1.0"


def digest_items(f: h5py.File) -> Iterator[tuple[str, str, str, h5py.Dataset]]:
    """``(kind, uid, name, dataset)`` for every dataset the digest covers, in digest order."""
    names = DIGEST_DATASETS if digest_form(f) == "1.1" else ("display",)
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


def _entry(kind: str, uid: str, name: str, shape: tuple[int, ...], sha: str) -> bytes:
    return f"{kind}/{uid}/{name}:{tuple(int(n) for n in shape)}\0{sha}".encode()


def digest_from_checksums(f: h5py.File, checksums: Callable[[h5py.Dataset], str | None]) -> str | None:
    """The 1.1 digest from a checksum per dataset (``None`` from ``checksums`` makes it ``None``)."""
    h = hashlib.sha256()
    for kind, uid, name, ds in digest_items(f):
        sha = checksums(ds)
        if sha is None:
            return None
        h.update(_entry(kind, uid, name, ds.shape, sha))
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


def content_digest(f: h5py.File) -> str:
    """The content digest of an open store, as the writer records it.

    For a 1.1 store it is built from the datasets' stored checksums (a dataset without one is
    hashed from its bytes), so it is cheap; :func:`verify_images` is the reader's check that the
    bytes still give those checksums.

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

    def stored(ds: h5py.Dataset) -> str:
        sha = ds.attrs.get("sha256")
        if sha is None:
            scan = scan_dataset(ds)
            if scan.error:
                raise MRDError(f"{f.filename}: {ds.name} {scan.error}; the file is damaged")
            return str(scan.sha256)
        return str(sha)

    return str(digest_from_checksums(f, stored))


def verify_images(f: h5py.File, progress: Callable[[int], Any] | None = None) -> tuple[str, list[str]]:
    """Recompute the digest from the image bytes; return it and the datasets whose bytes changed.

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
        HDF5 paths of image datasets whose bytes no longer match their own checksum (1.1).

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

    return str(digest_from_checksums(f, recompute)), changed


def digest_bytes(f: h5py.File) -> int:
    """How many image bytes :func:`verify_images` reads (for a progress bar)."""
    return sum(int(ds.size) for *_, ds in digest_items(f))
