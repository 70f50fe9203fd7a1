"""Per-dataset and per-group checksums (schema 1.1): every object of a store says what it held.

Every dataset carries an attribute ``sha256``: the sha256 of ``"<dtype>|<shape>\\0"`` (numpy's
``dtype.str`` and the shape tuple) followed by the raw bytes of its values in C order — independent
of compression and chunking. Every group carries an attribute ``sha256`` over a canonical JSON
text of its other attributes and the sorted names of its members (groups end in ``/``), so a
changed flag, a changed number in an attribute or a deleted member is seen. Checksums are made
when a unit is written (:mod:`stimuli.h5io`) and when the merge changes a group (the root, the
three unit folders, a metamer's ``similarity`` folder); :func:`scan_dataset` reads a dataset back
in bounded slabs and reports what it found without raising.

Examples
--------
>>> import h5py, numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "c.h5")
>>> with h5py.File(path, "w") as f:
...     ds = f.create_dataset("x", data=np.arange(6.0))
...     ds.attrs["sha256"] = array_sha256(np.arange(6.0))
...     scan = scan_dataset(ds)
...     scan.sha256 == ds.attrs["sha256"], scan.finite, scan.error
(True, True, None)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

SLAB_BYTES = 1 << 26
"""Largest slab (bytes) read at once when a dataset is scanned."""
KEEP_BYTES = 1 << 20
"""Datasets up to this size are kept in memory by :func:`scan_dataset` for value checks."""


def _header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    return f"{np.dtype(dtype).str}|{tuple(int(n) for n in shape)}\0".encode()


def array_sha256(arr: np.ndarray) -> str:
    """Checksum of an array as it will be stored (dtype, shape, C-order bytes).

    Examples
    --------
    >>> array_sha256(np.zeros(3)) == array_sha256(np.zeros(3, np.float32))
    False
    """
    a = np.asarray(arr, order="C")
    h = hashlib.sha256(_header(a.dtype, a.shape))
    h.update(a.tobytes())
    return h.hexdigest()


def iter_slabs(ds: h5py.Dataset, max_bytes: int = SLAB_BYTES) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, block)``: consecutive blocks along the first axis (C-order concatenation = all).

    Blocks hold whole chunks where the dataset is chunked, so no chunk is decompressed twice.
    """
    if ds.ndim == 0 or ds.size == 0:
        yield 0, np.asarray(ds[()])
        return
    row = max(1, ds.dtype.itemsize * math.prod(ds.shape[1:]))
    step = max(1, max_bytes // row)
    if ds.chunks:
        c = ds.chunks[0]
        step = max(c, step // c * c)
    for start in range(0, ds.shape[0], step):
        yield start, ds[start : start + step]


@dataclass
class Scan:
    """What reading a dataset found.

    Attributes
    ----------
    sha256 : str or None
        Checksum of the values read (None when a part could not be read).
    finite : bool
        False when a floating-point value is NaN or infinite (always True for other dtypes).
    error : str or None
        Why a part could not be read (which rows, and the library's message).
    array : numpy.ndarray or None
        The values, for datasets up to :data:`KEEP_BYTES` that were read completely.
    """

    sha256: str | None
    finite: bool
    error: str | None
    array: np.ndarray | None


def scan_dataset(ds: h5py.Dataset, feed: Callable[[np.ndarray], Any] | None = None) -> Scan:
    """Read every value of ``ds`` in slabs: checksum, finiteness, and the values if small. Never raises.

    Parameters
    ----------
    ds : h5py.Dataset
        The dataset.
    feed : callable, optional
        Called with every block read (used to compute the content digest in the same pass).
    """
    try:
        dtype, shape = ds.dtype, ds.shape
    except Exception as exc:  # damaged object header
        return Scan(None, True, f"cannot read its type or shape ({type(exc).__name__}: {exc})", None)
    h = hashlib.sha256(_header(dtype, shape))
    floating = np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.complexfloating)
    finite, parts, keep = True, [], ds.size * dtype.itemsize <= KEEP_BYTES
    start = 0
    try:
        for start, block in iter_slabs(ds):  # noqa: B007 - start names the failing rows below
            block = np.asarray(block, order="C")
            raw = block.tobytes()
            h.update(raw)
            if feed is not None:
                feed(block)
            if floating and not np.all(np.isfinite(block)):
                finite = False
            if keep:
                parts.append(block)
    except Exception as exc:  # an unreadable chunk: a finding, not a traceback
        where = f"rows from {start}" if ds.ndim else "its value"
        return Scan(None, finite, f"cannot be read at {where} ({type(exc).__name__}: {exc})", None)
    array = None
    if keep:
        array = parts[0] if len(parts) == 1 else np.concatenate(parts).reshape(shape)
    return Scan(h.hexdigest(), finite, None, array)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return {"array": value.dtype.str, "shape": list(value.shape), "values": [_plain(v) for v in value.ravel()]}
    if isinstance(value, np.generic):
        return value.item()
    return value


def group_sha256(group: h5py.Group) -> str:
    """Checksum of a group's attributes (except ``sha256``) and member names."""
    attrs = {k: _plain(group.attrs[k]) for k in sorted(group.attrs) if k != "sha256"}
    members = sorted(k + ("/" if group.get(k, getclass=True) is h5py.Group else "") for k in group)
    text = json.dumps({"attrs": attrs, "members": members}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stamp_group(group: h5py.Group) -> None:
    """Set the ``sha256`` attribute of ``group`` (not of its subgroups)."""
    group.attrs["sha256"] = group_sha256(group)


def stamp_tree(group: h5py.Group) -> None:
    """Set ``sha256`` on ``group`` and every group below it, deepest first (datasets are stamped on write)."""
    for name in list(group):
        if group.get(name, getclass=True) is h5py.Group:
            stamp_tree(group[name])
    stamp_group(group)
