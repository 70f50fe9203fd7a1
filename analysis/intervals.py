"""Per-condition pc and d' intervals that generalise over participants and items: a cluster bootstrap.

The pooled Wilson interval of a condition treats every trial as independent, so it describes these
trials only. Here participants *and* items are resampled with replacement (the two-way "pigeonhole"
bootstrap for crossed random factors: a replicate weights the trials of participant ``p`` and item
``i`` by ``count_p x count_i``), and the condition's pooled proportion correct is recomputed in
each replicate. Percentile intervals of pc map to d' through the oddity model (monotone).

Work is on counts per condition x participant x item cell, so it costs cells x replicates, not
trials x replicates.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> t = pd.DataFrame({"condition": "c", "participant": rng.integers(0, 8, 800).astype(str),
...                   "item": rng.integers(0, 10, 800).astype(str)})
>>> t["correct"] = (rng.random(800) < 0.7).astype(int)
>>> b = cluster_bootstrap(t, n_boot=200)
>>> bool(b["pc_boot_lo"].iloc[0] < 0.7 < b["pc_boot_hi"].iloc[0])
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.oddity import dprime_from_pc


def cluster_bootstrap(
    trials: pd.DataFrame,
    by: Sequence[str] = ("condition",),
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    clusters: Sequence[str] = ("participant", "item"),
    chunk: int = 64,
) -> pd.DataFrame:
    """Percentile intervals of per-condition pc and d', resampling participants and items.

    Parameters
    ----------
    trials : pandas.DataFrame
        Analysed trials with ``correct``, the ``by`` and ``clusters`` columns.
    by : sequence of str
        Columns that define a condition.
    n_boot : int
        Replicates.
    level : float
        Interval level.
    seed : int
        Random seed (same seed, same intervals).
    clusters : sequence of str
        Crossed factors resampled independently (those missing from the table are skipped).
    chunk : int
        Replicates computed at once (memory: cells x chunk).

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, ``pc``, ``pc_boot_lo``, ``pc_boot_hi``, ``dprime``, ``dprime_boot_lo``,
        ``dprime_boot_hi``, ``n_boot``, ``resampled``.
    """
    by = [c for c in by if c in trials]
    clusters = [c for c in clusters if c in trials and trials[c].nunique() > 1]
    keys = [*by, *clusters]
    cells = trials.groupby(keys, sort=True, observed=True)["correct"].agg(["sum", "size"]).reset_index()
    cond_codes, cond_index = pd.MultiIndex.from_frame(cells[by].astype(str)).factorize()
    n_cond = len(cond_index)
    k, n = cells["sum"].to_numpy(float), cells["size"].to_numpy(float)
    codes = [pd.factorize(cells[c])[0] for c in clusters]
    sizes = [int(c.max()) + 1 for c in codes]
    rng = np.random.default_rng(seed)
    pcs = np.empty((n_boot, n_cond))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        w = np.ones((b, len(cells)))
        for c, m in zip(codes, sizes, strict=True):
            counts = rng.multinomial(m, np.full(m, 1.0 / m), size=b).astype(float)
            w *= counts[:, c]
        kk = np.stack([np.bincount(cond_codes, weights=row * k, minlength=n_cond) for row in w])
        nn = np.stack([np.bincount(cond_codes, weights=row * n, minlength=n_cond) for row in w])
        with np.errstate(invalid="ignore", divide="ignore"):
            pcs[start : start + b] = kk / nn
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    pc_hat = np.bincount(cond_codes, weights=k, minlength=n_cond) / np.bincount(
        cond_codes, weights=n, minlength=n_cond
    )
    lo, hi = np.nanquantile(pcs, lo_q, axis=0), np.nanquantile(pcs, hi_q, axis=0)
    out = pd.DataFrame(list(cond_index), columns=by)
    out["pc"], out["pc_boot_lo"], out["pc_boot_hi"] = pc_hat, lo, hi
    out["dprime"], out["dprime_boot_lo"], out["dprime_boot_hi"] = (
        dprime_from_pc(pc_hat),
        dprime_from_pc(lo),
        dprime_from_pc(hi),
    )
    out["n_boot"] = n_boot
    out["resampled"] = " x ".join(clusters) or "trials"
    return out
