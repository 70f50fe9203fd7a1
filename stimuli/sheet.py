"""Contact sheet of target / metamer pairs, grouped by varied parameter group.

Each row shows a metamer's target (view 0), the metamer (view 0) and their absolute difference
(amplified), titled with the model, the similarity under the generating model, the null reference and the
success flag. ``mrd inspect SET.h5 --sheet OUT.png`` writes it.

Examples
--------
>>> import tempfile, os
>>> from stimuli.testing import write_synthetic_store
>>> d = tempfile.mkdtemp()
>>> _ = write_synthetic_store(os.path.join(d, "s.h5"), n_scenes=1, n_metamers_per_scene=2)
>>> contact_sheet(os.path.join(d, "s.h5"), os.path.join(d, "sheet.png")).suffix
'.png'
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from stimuli.errors import MRDError
from stimuli.reader import StimulusSet


def contact_sheet(store: str | os.PathLike[str], out: str | os.PathLike[str], view: int = 0,
                  max_rows: int = 40) -> Path:
    """Draw target/metamer pairs per varied group and save the figure (PNG, or SVG/PDF by suffix).

    Parameters
    ----------
    store : path-like
        The stimulus set.
    out : path-like
        Output image file.
    view : int
        Which camera view to show.
    max_rows : int
        At most this many metamers (the first ones by group, then id).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    with StimulusSet(store) as s:
        for xid in s.metamer_ids:
            m = s.metamer(xid, images=False)
            rows.append((m.group, xid, m))
        if not rows:
            raise MRDError(f"{store}: has no metamers to draw")
        rows.sort(key=lambda r: (r[0], r[1]))
        rows = rows[:max_rows]
        fig, axes = plt.subplots(len(rows), 3, figsize=(6.6, 2.3 * len(rows)), squeeze=False)
        for i, (group, xid, m) in enumerate(rows):
            target = s.scene_display(m.scene_id)
            meta = s.metamer_display(xid)
            v = min(view, target.shape[0] - 1)
            diff = np.abs(target[v].astype(np.int16) - meta[v].astype(np.int16)).astype(np.float32)
            diff = np.clip(diff * 4, 0, 255).astype(np.uint8)
            sim = m.similarity[m.model_id]
            flag = "success" if m.success else "not successful"
            axes[i, 0].imshow(target[v])
            axes[i, 0].set_title(f"target {m.scene_id}", fontsize=8)
            axes[i, 1].imshow(meta[v])
            axes[i, 1].set_title(f"{group} metamer ({m.model_id})", fontsize=8)
            axes[i, 2].imshow(diff)
            axes[i, 2].set_title("|difference| x4", fontsize=8)
            axes[i, 1].set_xlabel(
                f"cos {sim.mean_cosine:.4f}  null max {sim.null_max_cosine:.4f}\n{flag}", fontsize=7,
                color="darkgreen" if m.success else "darkred",
            )
            for ax in axes[i]:
                ax.set_xticks([])
                ax.set_yticks([])
        fig.suptitle(f"{Path(store).name}: targets and metamers (view {view})", fontsize=10)
        fig.tight_layout()
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110)
        plt.close(fig)
    return out
