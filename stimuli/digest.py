"""The content digest: sha256 over every display image a participant could see.

The digest covers, in sorted id order, each scene's and each metamer's ``display`` dataset (its
id, shape and bytes). It does not depend on compression, chunking, attribute order or on when the
file was written, so it is stable across re-opening and re-packing. Experiment sessions record it;
analysis refuses sessions whose digest differs from the store's.

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

import h5py
import numpy as np


def content_digest(f: h5py.File) -> str:
    """Compute the content digest of an open store.

    Parameters
    ----------
    f : h5py.File
        An open stimulus-set file (read or write mode).

    Returns
    -------
    str
        64 hexadecimal characters.
    """
    h = hashlib.sha256()
    for kind in ("scenes", "metamers"):
        if kind not in f:
            continue
        for uid in sorted(f[kind].keys()):
            ds = f[kind][uid].get("display")
            if ds is None:
                continue
            arr = np.ascontiguousarray(ds[()], dtype=np.uint8)
            h.update(f"{kind}/{uid}:{arr.shape}\0".encode())
            h.update(arr.tobytes())
    return h.hexdigest()
