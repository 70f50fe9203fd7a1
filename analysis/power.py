"""Power by simulation: simulated observers on a study's items, each data set analysed as ``mrd analyze`` does.

The items (and their model similarity, per view) come from a stimulus set, or from a trial table
with a numeric predictor. A simulated study has ``participants`` observers, each seeing every one
of ``items`` items ``repeats`` times (at a random view). Correctness follows a binomial GLMM with
the oddity guess rate:

``pc = 1/3 + 2/3 logistic(b0 + effect * z + u_participant + u_item)``,

``z`` the predictor standardised over the items' views, ``logistic(b0) = (baseline_pc - 1/3) / (2/3)``,
``u ~ N(0, sd^2)``. Each simulated data set is analysed with the analysis pipeline's mixed model
(:func:`analysis.mixed.fit_mixed`, Laplace fit, random intercepts for participant and item, fixed part
``correct ~ <predictor>_z``); the effect counts as detected when its Wald p-value is below ``alpha``
and its sign is the planted one (any sign for a planted effect of 0: then power is the false-positive
rate). Power is the detected share with a Wilson interval over the
simulated studies. Analysis stays independent of ``psychophysics`` and ``mrd``.

Examples
--------
>>> import pandas as pd
>>> items = pd.DataFrame({"item": list("abcdef"), "group": "g", "condition": "g", "view": 0,
...                       "similarity": [0.6, 0.7, 0.75, 0.8, 0.9, 0.95]})
>>> tab = power_grid(items, participants=[6], repeats=[8], effect=-1.5, n_sims=8, seed=1, progress=False)
>>> tab[["participants", "repeats", "items", "n_sims"]].values.tolist()
[[6, 8, 6, 8]]
>>> bool(tab["power"].iloc[0] > 0.5)
True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special
from tqdm import tqdm

from analysis.oddity import GUESS_RATE, binomial_ci
from stimuli.errors import MRDError

POWER_COLUMNS = [
    "participants",
    "repeats",
    "items",
    "trials_per_participant",
    "n_sims",
    "detected",
    "power",
    "power_lo",
    "power_hi",
    "mean_estimate",
    "mean_se",
    "failed_fits",
]


def items_from_store(path: str | os.PathLike[str]) -> pd.DataFrame:
    """One row per metamer x view of a stimulus set: ``item, group, condition, view, similarity``.

    ``similarity`` is the layer-averaged cosine under the metamer's generating model.
    """
    from stimuli import StimulusSet

    rows = []
    with StimulusSet(path) as s:
        for xid in s.metamer_ids:
            rec = s.metamer(xid, images=False)
            cos = np.asarray(rec.similarity[rec.model_id].cosine, float).mean(axis=1)
            for view, c in enumerate(cos):
                rows.append(
                    {
                        "item": xid,
                        "group": rec.group,
                        "condition": f"{rec.group} / {rec.model_id}",
                        "view": view,
                        "similarity": float(c),
                    }
                )
    if not rows:
        raise MRDError(f"{path}: the stimulus set has no metamers to simulate")
    return pd.DataFrame(rows)


def items_from_table(
    path: str | os.PathLike[str], item_cols: str | Sequence[str] = "item", x_col: str | None = None
) -> pd.DataFrame:
    """Items of a trial table with their predictor: ``item, group, condition, view, <predictor>``.

    The predictor is ``x_col`` (used as ``distance``), else a ``similarity`` or ``distance`` column.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, low_memory=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise MRDError(f"{path}: not a readable trial table ({exc})") from exc
    cols = [item_cols] if isinstance(item_cols, str) else list(item_cols)
    missing = [c for c in cols if c not in raw]
    if missing:
        raise MRDError(f"{path}: item column(s) {missing} not found; the table has {', '.join(raw.columns)}")
    pred = "distance" if x_col else next((c for c in ("similarity", "distance") if c in raw), None)
    source = x_col or pred
    if source is None or source not in raw:
        raise MRDError(
            f"{path}: power from a trial table needs a numeric predictor per item: give --x-col COL "
            "(or a 'similarity' or 'distance' column)"
        )
    x = pd.to_numeric(raw[source], errors="coerce")
    if x.isna().any():
        raise MRDError(f"{path}: column {source!r} has empty or non-numeric values")
    item = raw[cols[0]].astype(str)
    for c in cols[1:]:
        item = item + " / " + raw[c].astype(str)
    out = pd.DataFrame({"item": item, pred: x}).groupby("item", sort=True)[pred].mean().reset_index()
    out["group"], out["condition"], out["view"] = "all", "all", 0
    return out


def _predictor(items: pd.DataFrame) -> str:
    for c in ("similarity", "distance"):
        if c in items:
            return c
    raise MRDError("items need a 'similarity' or 'distance' column")


def simulate_study(
    items: pd.DataFrame,
    n_participants: int,
    repeats: int,
    effect: float,
    baseline_pc: float = 0.7,
    sd_participant: float = 0.5,
    sd_item: float = 0.5,
    rng: np.random.Generator | None = None,
    n_items: int | None = None,
) -> pd.DataFrame:
    """Trials of one simulated study (see the module notes for the model).

    Returns
    -------
    pandas.DataFrame
        ``participant, item, group, condition, view, <predictor>, correct, p_true``.
    """
    rng = rng or np.random.default_rng()
    pred = _predictor(items)
    names = items["item"].drop_duplicates().to_numpy()
    if n_items is not None and n_items < len(names):
        names = rng.choice(names, size=n_items, replace=False)
    sub = items[items["item"].isin(names)].reset_index(drop=True)
    codes, uniq = pd.factorize(sub["item"])
    order = np.argsort(codes, kind="stable")
    start = np.searchsorted(codes[order], np.arange(len(uniq)))
    count = np.bincount(codes, minlength=len(uniq))
    mu, sd = float(items[pred].mean()), float(items[pred].std(ddof=0)) or 1.0
    b0 = float(special.logit((baseline_pc - GUESS_RATE) / (1 - GUESS_RATE)))
    u_i = rng.normal(0, sd_item, len(uniq))
    u_p = rng.normal(0, sd_participant, n_participants)
    # every participant x item x repeat, each at a random view of the item
    p_idx = np.repeat(np.arange(n_participants), len(uniq) * repeats)
    i_idx = np.tile(np.repeat(np.arange(len(uniq)), repeats), n_participants)
    rows = order[start[i_idx] + (rng.random(len(i_idx)) * count[i_idx]).astype(int)]
    out = sub.loc[rows, ["item", "group", "condition", "view", pred]].reset_index(drop=True)
    z = (out[pred].to_numpy(float) - mu) / sd
    pc = GUESS_RATE + (1 - GUESS_RATE) * special.expit(b0 + effect * z + u_p[p_idx] + u_i[i_idx])
    out.insert(0, "participant", np.char.add("P", np.char.zfill((p_idx + 1).astype(str), 3)))
    out["p_true"] = pc
    out["correct"] = (rng.random(len(pc)) < pc).astype(int)
    return out


def power_grid(
    items: pd.DataFrame,
    participants: Sequence[int],
    repeats: Sequence[int],
    n_items: Sequence[int] | None = None,
    effect: float = -0.5,
    baseline_pc: float = 0.7,
    sd_participant: float = 0.5,
    sd_item: float = 0.5,
    n_sims: int = 100,
    alpha: float = 0.05,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Power over a grid of participants x repeats (x items), by simulation and re-analysis.

    Parameters
    ----------
    items : pandas.DataFrame
        From :func:`items_from_store` or :func:`items_from_table`.
    participants, repeats : sequence of int
        Grid values.
    n_items : sequence of int, optional
        Items per simulated study (a random subset per study); default: all.
    effect : float
        Planted effect: log-odds (above the guess rate) per SD of the predictor.
    baseline_pc, sd_participant, sd_item : float
        Proportion correct at the mean predictor for a typical participant and item; random-effect SDs.
    n_sims : int
        Simulated studies per grid point.
    alpha : float
        Significance level of the two-sided Wald test.
    seed : int
        Seed (the same seed gives the same table).
    progress : bool
        Progress bar over the simulated studies.

    Returns
    -------
    pandas.DataFrame
        One row per grid point: ``participants, repeats, items, trials_per_participant, n_sims,
        detected, power, power_lo, power_hi, mean_estimate, mean_se, failed_fits``.
    """
    from analysis.mixed import fit_mixed

    if not 0 < baseline_pc < 1 or baseline_pc <= GUESS_RATE:
        raise MRDError(f"baseline pc {baseline_pc} must lie between the guess rate 1/3 and 1")
    pred = _predictor(items)
    all_items = items["item"].nunique()
    sizes = list(n_items) if n_items else [all_items]
    if any(k < 2 or k > all_items for k in sizes):
        raise MRDError(f"items per study must be between 2 and the {all_items} items available; got {sizes}")
    if any(p < 2 for p in participants) or any(r < 1 for r in repeats):
        raise MRDError("participants must be >= 2 and repeats >= 1")
    grid = list(product(participants, repeats, sizes))
    rng = np.random.default_rng(seed)
    bar = tqdm(total=len(grid) * n_sims, desc="power", unit="study", disable=not progress)
    rows = []
    term = f"{pred}_z"
    for n_p, reps, k in grid:
        hits, est, ses, failed = 0, [], [], 0
        for _ in range(n_sims):
            trials = simulate_study(items, n_p, reps, effect, baseline_pc, sd_participant, sd_item, rng, k)
            try:
                res = fit_mixed(trials, formula=f"correct ~ {term}")
                row = res.effects.set_index("term").loc[term]
                b, se, p = float(row["estimate"]), float(row["sd"]), float(row["p_value"])
            except (MRDError, KeyError, np.linalg.LinAlgError, ValueError):
                failed += 1
                bar.update()
                continue
            est.append(b)
            ses.append(se)
            hits += int(p < alpha and (effect == 0 or np.sign(b) == np.sign(effect)))
            bar.update()
        lo, hi = binomial_ci(np.array([hits]), np.array([n_sims]))
        rows.append(
            {
                "participants": n_p,
                "repeats": reps,
                "items": k,
                "trials_per_participant": reps * k,
                "n_sims": n_sims,
                "detected": hits,
                "power": hits / n_sims,
                "power_lo": float(lo[0]),
                "power_hi": float(hi[0]),
                "mean_estimate": float(np.mean(est)) if est else np.nan,
                "mean_se": float(np.mean(ses)) if ses else np.nan,
                "failed_fits": failed,
            }
        )
    bar.close()
    return pd.DataFrame(rows, columns=POWER_COLUMNS)


def effect_text(
    effect: float, predictor: str, baseline_pc: float, sd_participant: float, sd_item: float, alpha: float
) -> str:
    """One line stating the planted effect and the model around it.

    Examples
    --------
    >>> effect_text(-0.5, "similarity", 0.7, 0.5, 0.5, 0.05)[:46]
    'effect -0.5 log-odds per SD of similarity (odd'
    """
    return (
        f"effect {effect:g} log-odds per SD of {predictor} (oddity link, baseline pc {baseline_pc:g}, "
        f"SD participant {sd_participant:g}, SD item {sd_item:g}; two-sided Wald test at alpha {alpha:g})"
    )
