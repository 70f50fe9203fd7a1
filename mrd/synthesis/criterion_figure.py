"""The criterion as a picture: the generating model's distances of re-renders, the metamer and the nulls.

For one metamer of a store, from the store's own display renders (no rendering here), under its
generating model and distance (mean over views and the metamer's layers):

* **re-renders**: ``d(target render i, target render j)``, ``i != j``: how far the model finds two
  renders of the *same* scene (Monte Carlo noise);
* **metamer**: ``d(metamer render i, target render j)`` for every pair;
* **null draws**: ``d(null draw k, target render j)``: scenes whose varied group is drawn from the prior.

A metamer in the criterion's sense sits inside the re-render distribution and far left of the nulls.
``python -m mrd.synthesis.criterion_figure SET.h5 --out fig.png [--metamer ID ...]`` draws one panel per
metamer (default: every metamer, at most 6); docs/generate.md shows the demo's.

Examples
--------
>>> import numpy as np
>>> d = CriterionDistances("m", "rel_l2", np.array([0.1, 0.12]), np.array([0.3, 0.31]), np.array([0.9, 1.1]),
...                        {"oddity_pc": 1.0, "null_p": 0.0099}, False)
>>> round(d.ratio, 3)
2.773
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stimuli.errors import MRDError

MAX_PANELS = 6


@dataclass
class CriterionDistances:
    """The three distance distributions of one metamer (see the module docstring)."""

    metamer_id: str
    kind: str
    rerender: np.ndarray
    metamer: np.ndarray
    null: np.ndarray
    criterion: dict[str, Any]
    success: bool

    @property
    def ratio(self) -> float:
        """Mean metamer distance / mean re-render distance (1 = as close as a re-render)."""
        return float(np.mean(self.metamer) / np.mean(self.rerender))


def criterion_distances(s: Any, metamer_id: str, model: Any, kind: str) -> CriterionDistances:
    """The distributions of one metamer of an open :class:`stimuli.StimulusSet` under a loaded model.

    Raises
    ------
    MRDError
        When the store holds fewer than 2 display renders of the target (no re-render pairs).
    """
    from mrd.synthesis.distances import pairwise_distances, render_features

    meta = s.metamer(metamer_id, images=True)
    if s.n_renders("scene", meta.scene_id) < 2:
        raise MRDError(f"{metamer_id}: the store holds < 2 display renders of scene {meta.scene_id!r}; "
                       "set render.display_renders >= 2")  # fmt: skip
    sub = model.restricted(list(meta.layers)) if list(meta.layers) != list(model.record.layers) else model
    t = render_features(sub, s.renders("scene", meta.scene_id))
    m = render_features(sub, s.renders("metamer", metamer_id))
    d_tt = pairwise_distances(t, t, kind).mean(axis=(2, 3))
    rerender = d_tt[~np.eye(d_tt.shape[0], dtype=bool)]
    metamer = pairwise_distances(m, t, kind).mean(axis=(2, 3)).ravel()
    nulls = np.asarray(meta.null_display)
    null = pairwise_distances(render_features(sub, nulls), t, kind).mean(axis=(2, 3)).ravel() if nulls.size \
        else np.zeros(0)  # (K, V, H, W, 3): one render per null draw
    return CriterionDistances(metamer_id, kind, rerender, metamer, null, dict(meta.criterion or {}), bool(meta.success))


def plot_distances(rows: list[CriterionDistances], out: str | Path) -> Path:
    """One panel per metamer: the three distributions on a log axis, the decision in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 1, figsize=(7.5, 1.9 * len(rows) + 0.6), squeeze=False)
    colours = {"re-renders of the target": "#4c72b0", "metamer vs target": "#dd8452", "null draws vs target": "#8c8c8c"}
    for ax, d in zip(axes[:, 0], rows, strict=True):
        groups = [d.rerender, d.metamer, d.null]
        lo = max(min(float(np.min(g)) for g in groups if g.size) * 0.8, 1e-6)
        hi = max(float(np.max(g)) for g in groups if g.size) * 1.25
        bins = np.geomspace(lo, hi, 40)
        for (label, colour), g in zip(colours.items(), groups, strict=True):
            if g.size:
                ax.hist(g, bins=bins, color=colour, alpha=0.65, label=f"{label} (n={g.size})")
        ax.set_xscale("log")
        ax.set_yticks([])
        c = d.criterion
        verdict = "success" if d.success else "not a metamer"
        ax.set_title(f"{d.metamer_id}: {verdict}; model oddity pc {c.get('oddity_pc', float('nan')):.2f}, "
                     f"null p {c.get('null_p', float('nan')):.3f}, distance ratio {d.ratio:.2f}", fontsize=8.5)  # fmt: skip
    axes[-1, 0].set_xlabel(f"activation distance under the generating model ({rows[0].kind}, mean over views and layers)")
    axes[0, 0].legend(fontsize=7.5, loc="upper right", frameon=False)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m mrd.synthesis.criterion_figure SET.h5 --out FIG.png [--metamer ID ...]``."""
    ap = argparse.ArgumentParser(prog="python -m mrd.synthesis.criterion_figure", description=__doc__.splitlines()[0])
    ap.add_argument("store")
    ap.add_argument("--out", required=True)
    ap.add_argument("--metamer", action="append", help="metamer id (repeat; default: every metamer, at most 6)")
    a = ap.parse_args(argv)
    from mrd.config import parse_config
    from mrd.models import load_model
    from mrd.synthesis.generate import resolve_weights
    from stimuli import StimulusSet

    try:
        with StimulusSet(a.store) as s:
            cfg = parse_config(s.config_text, a.store, Path(a.store).resolve().parent)
            ids = a.metamer or list(s.metamer_ids)[:MAX_PANELS]
            unknown = [x for x in ids if x not in s.metamer_ids]
            if unknown:
                raise MRDError(f"{a.store}: no metamers {unknown}")
            models: dict[str, Any] = {}
            rows = []
            for xid in ids:
                mid = s.metamer(xid, images=False).model_id
                if mid not in models:
                    models[mid] = load_model(resolve_weights(cfg.model(mid), cfg.resolve))
                rows.append(criterion_distances(s, xid, models[mid], cfg.optimize.distance))
        print(plot_distances(rows, a.out))
    except MRDError as exc:
        print(f"error: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
