"""Spearman correlation of item d' with model similarity, per group, with a two-way bootstrap.

The bootstrap resamples participants *and* items with replacement (both are random samples), recomputes
every item's d' from the resampled participants' trials, and takes percentile intervals of Spearman's
rho. It runs vectorised on a participants x items table of counts.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> rows = [(p, i, s, int(rng.random() < 0.34 + 0.6 * (1 - s))) for p in range(8) for i, s in
...         enumerate(np.linspace(0.5, 1.0, 12)) for _ in range(10)]
>>> t = pd.DataFrame(rows, columns=["participant", "item", "similarity", "correct"]).assign(group="g")
>>> table = item_correlations(t, n_boot=200)
>>> bool(table["rho"].iloc[0] < -0.8)
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.oddity import dprime_from_pc


def _rowwise_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    rx = stats.rankdata(x, axis=1)
    ry = stats.rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(axis=1) / den, np.nan)


def bootstrap_spearman(
    k: np.ndarray,
    n: np.ndarray,
    x: np.ndarray,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    chunk: int = 250,
) -> tuple[float, float, float, np.ndarray]:
    """Spearman's rho of item d' with ``x``, with a participants x items bootstrap.

    Parameters
    ----------
    k, n : numpy.ndarray
        ``(participants, items)`` correct counts and trial counts.
    x : numpy.ndarray
        ``(items,)`` predictor (e.g. model similarity).
    n_boot : int
        Bootstrap replicates.
    level : float
        Level of the percentile interval.
    seed : int
        Random seed.
    chunk : int
        Replicates computed at once (memory bound).

    Returns
    -------
    rho, lo, hi : float
    draws : numpy.ndarray
        The bootstrap distribution; NaN where undefined (a constant resample, or a drawn item that
        none of the drawn participants saw). The interval uses the finite draws.
    """
    k, n, x = np.asarray(k, float), np.asarray(n, float), np.asarray(x, float)
    n_p, n_i = k.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        d = dprime_from_pc(np.clip(np.nan_to_num(k.sum(0) / n.sum(0), nan=0.0), 0, 1))
    rho = float(stats.spearmanr(d, x).statistic) if n_i > 2 else np.nan
    rng = np.random.default_rng(seed)
    draws = []
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        w = rng.multinomial(n_p, np.full(n_p, 1.0 / n_p), size=b).astype(float)  # (b, P) participant weights
        idx = rng.integers(0, n_i, size=(b, n_i))  # (b, I) item draws
        kb = np.take_along_axis(w @ k, idx, axis=1)
        nb = np.take_along_axis(w @ n, idx, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            pc = kb / nb
        valid = nb > 0
        db = dprime_from_pc(np.where(valid, pc, 1.0 / 3.0))
        r = _rowwise_spearman(db, x[idx])
        draws.append(np.where(valid.all(axis=1), r, np.nan))  # an item without trials voids the replicate
    all_draws = np.concatenate(draws) if draws else np.array([])
    ok = all_draws[np.isfinite(all_draws)]
    if ok.size == 0:
        return rho, np.nan, np.nan, all_draws
    lo, hi = np.quantile(ok, [(1 - level) / 2, (1 + level) / 2])
    return rho, float(lo), float(hi), all_draws


def empty_table(by: str = "group") -> pd.DataFrame:
    """The correlation table with its columns and no rows.

    Examples
    --------
    >>> list(empty_table().columns)[:3]
    ['group', 'n_items', 'n_participants']
    """
    return pd.DataFrame(
        columns=[by, "n_items", "n_participants", "rho", "lo", "hi", "p_value", "n_boot", "predictor"]
    )


def item_correlations(
    trials: pd.DataFrame,
    x: str = "similarity",
    by: str = "group",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Per group: Spearman's rho of item d' with the item's mean ``x``, with bootstrap CI.

    Parameters
    ----------
    trials : pandas.DataFrame
        Analysed trials with ``participant``, ``item``, ``correct``, ``x`` and ``by``.
    x : str
        Item-level predictor column (averaged over the item's trials).
    by : str
        Grouping column.
    n_boot, level, seed
        Bootstrap settings.

    Returns
    -------
    pandas.DataFrame
        ``group, n_items, n_participants, rho, lo, hi, p_value (asymptotic), n_boot``.
    """
    rows = []
    data = trials.dropna(subset=[x])
    for g, sub in data.groupby(by, sort=True):
        k = sub.pivot_table(
            index="participant", columns="item", values="correct", aggfunc="sum", fill_value=0
        )
        n = sub.pivot_table(
            index="participant", columns="item", values="correct", aggfunc="size", fill_value=0
        )
        xi = sub.groupby("item")[x].mean().reindex(k.columns).to_numpy()
        if k.shape[1] < 3:
            continue
        rho, lo, hi, _ = bootstrap_spearman(
            k.to_numpy(), n.reindex_like(k).to_numpy(), xi, n_boot, level, seed
        )
        items_pc = k.sum(0) / n.sum(0)
        p = float(stats.spearmanr(dprime_from_pc(items_pc.to_numpy()), xi).pvalue)
        rows.append(
            {
                by: g,
                "n_items": k.shape[1],
                "n_participants": k.shape[0],
                "rho": rho,
                "lo": lo,
                "hi": hi,
                "p_value": p,
                "n_boot": n_boot,
                "predictor": x,
            }
        )
    return pd.DataFrame(
        rows, columns=[by, "n_items", "n_participants", "rho", "lo", "hi", "p_value", "n_boot", "predictor"]
    )
