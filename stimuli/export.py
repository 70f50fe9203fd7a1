"""Export display images as PNG files with a manifest.

Examples
--------
>>> import tempfile, os
>>> from stimuli.writer import StoreWriter
>>> d = tempfile.mkdtemp()
>>> StoreWriter(os.path.join(d, "set.h5"), config_text="x = 1").close()
>>> export_pngs(os.path.join(d, "set.h5"), os.path.join(d, "png")).name
'manifest.csv'
"""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from stimuli.errors import MRDError
from stimuli.reader import StimulusSet
from stimuli.schema import check_id

MANIFEST_COLUMNS = ("file", "kind", "id", "scene_id", "model_id", "group", "view", "success", "sha256")


def _save_png(image: np.ndarray, path: Path) -> str:
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode="RGB").save(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_pngs(store: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path:
    """Write every display image of a store as a PNG and a ``manifest.csv`` describing them.

    Files are ``scenes/<scene_id>_v<k>.png`` and ``metamers/<metamer_id>_v<k>.png``. Existing files
    of the same name are replaced (they are derived data, re-creatable from the store). A store whose
    ids are not valid ids (e.g. written by another tool, with a newline or a ``/`` in a name) is refused
    before anything is written, so no file name can carry such characters.

    Parameters
    ----------
    store : path-like
        The stimulus set.
    out_dir : path-like
        Destination folder (created).

    Returns
    -------
    pathlib.Path
        The manifest file.
    """
    out = Path(out_dir)
    rows = []
    with StimulusSet(store) as s:
        for kind, ids in (("scene", s.scene_ids), ("metamer", s.metamer_ids)):
            for uid in ids:
                try:
                    check_id(uid, f"{store}: {kind} id")
                except MRDError as exc:
                    raise MRDError(f"{exc}; refusing to export it as a file name") from None
        (out / "scenes").mkdir(parents=True, exist_ok=True)
        (out / "metamers").mkdir(parents=True, exist_ok=True)
        for sid in tqdm(s.scene_ids, desc="export scenes", unit="scene"):
            for v, img in enumerate(s.scene_display(sid)):
                rel = f"scenes/{sid}_v{v}.png"
                rows.append((rel, "scene", sid, sid, "", "", v, "", _save_png(img, out / rel)))
        for xid in tqdm(s.metamer_ids, desc="export metamers", unit="metamer"):
            m = s.metamer(xid, images=False)
            for v, img in enumerate(s.metamer_display(xid)):
                rel = f"metamers/{xid}_v{v}.png"
                rows.append((rel, "metamer", xid, m.scene_id, m.model_id, m.group, v, int(m.success),
                             _save_png(img, out / rel)))
    manifest = out / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(MANIFEST_COLUMNS)
        w.writerows(rows)
    return manifest
