"""Condition effects on the d' scale from the Laplace mixed model: per-condition pc and d', and contrasts.

For each condition the fixed part of the model gives the linear predictor of a *typical* participant
and item (random effects at 0), at the condition's mean of every standardised predictor:
``eta = x' beta`` with ``se = sqrt(x' V x)`` (``V``: glmer's covariance of the fixed effects). Its
Wald interval maps through the inverse link to pc and through the oddity model
(:func:`analysis.oddity.dprime_from_pc`) to d'; both maps are monotone, so the intervals are exact
transforms. Because ``V`` carries the participant and item variances, these intervals generalise
to new participants and items, unlike the pooled Wilson intervals (which describe these trials only).

Contrasts between two conditions are differences in d' with percentile intervals from draws of the
fixed effects from ``N(beta, V)`` (a fixed seed: the same data give the same numbers) and a Wald
p-value for the difference on the linear-predictor scale (d' is a monotone function of eta).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from analysis.mixed import fit_mixed
>>> rng = np.random.default_rng(0)
>>> t = pd.DataFrame({"participant": rng.integers(0, 6, 1200).astype(str),
...                   "item": rng.integers(0, 10, 1200).astype(str),
...                   "condition": np.repeat(["easy", "hard"], 600)})
>>> t["correct"] = (rng.random(1200) < np.where(t["condition"] == "easy", 0.85, 0.5)).astype(int)
>>> res = fit_mixed(t, condition_cols=["condition"], gee=False)
>>> eff, con = condition_effects(res, t)
>>> bool(eff.set_index("condition").loc["easy", "dprime"] > eff.set_index("condition").loc["hard", "dprime"])
True
>>> bool(con["dprime_diff_lo"].iloc[0] > 0 or con["dprime_diff_hi"].iloc[0] < 0)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.mixed import LINKS, MixedResult, _prepare, safe_name
from analysis.oddity import DPRIME_MAX, dprime_from_pc, pc_from_dprime

EFFECT_COLUMNS = ["eta", "eta_se", "pc", "pc_lo", "pc_hi", "dprime", "dprime_lo", "dprime_hi", "method"]
CONTRAST_COLUMNS = [
    "condition_a",
    "condition_b",
    "dprime_a",
    "dprime_b",
    "dprime_diff",
    "dprime_diff_lo",
    "dprime_diff_hi",
    "eta_diff",
    "eta_diff_se",
    "p_value",
]


def condition_design(
    mixed: MixedResult, trials: pd.DataFrame, by: Sequence[str] = ("condition",)
) -> tuple[pd.DataFrame, np.ndarray]:
    """Representative fixed-effects rows, one per condition: ``(conditions, X)``.

    Categorical columns take the condition's most frequent value, standardised predictors their
    mean within the condition.
    """
    import patsy

    by = [c for c in by if c in trials]
    data, _ = _prepare(trials, mixed.formula, by)
    safe = [safe_name(c) for c in by]
    rows = []
    for _, sub in data.groupby(safe, sort=True, observed=True):
        rows.append({c: sub[c].mean() if c.endswith("_z") else sub[c].mode().iloc[0] for c in sub.columns})
    rep = pd.DataFrame(rows).reset_index(drop=True)
    (x,) = patsy.build_design_matrices([mixed.design_info], rep, return_type="matrix")
    keys = rep[safe].astype(str).set_axis(by, axis=1)
    return keys, np.asarray(x, float)


def condition_effects(
    mixed: MixedResult,
    trials: pd.DataFrame,
    by: Sequence[str] = ("condition",),
    level: float = 0.95,
    n_draws: int = 4000,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-condition pc and d' with intervals, and pairwise d' contrasts, from the Laplace fit.

    Parameters
    ----------
    mixed : MixedResult
        A fit with the ``"laplace"`` method.
    trials : pandas.DataFrame
        The analysed trials the model was fitted to.
    by : sequence of str
        Columns that define a condition.
    level : float
        Interval level.
    n_draws : int
        Draws of the fixed effects for the contrast intervals.
    seed : int
        Seed of those draws.

    Returns
    -------
    effects : pandas.DataFrame
        ``by`` columns and ``eta, eta_se, pc, pc_lo, pc_hi, dprime, dprime_lo, dprime_hi, method``.
    contrasts : pandas.DataFrame
        Every pair of conditions: ``condition_a, condition_b, dprime_a, dprime_b, dprime_diff``
        with ``dprime_diff_lo/hi``, ``eta_diff, eta_diff_se, p_value``.
    """
    by = [c for c in by if c in trials]
    if mixed.laplace is None or mixed.design_info is None:
        return pd.DataFrame(columns=[*by, *EFFECT_COLUMNS]), pd.DataFrame(columns=CONTRAST_COLUMNS)
    fit = mixed.laplace
    link = LINKS[mixed.link]
    keys, x = condition_design(mixed, trials, by)
    eta = x @ fit.beta
    cov = x @ fit.vcov @ x.T
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    z = stats.norm.ppf(0.5 + level / 2)
    pc = link.mu(eta)
    lo, hi = link.mu(eta - z * se), link.mu(eta + z * se)
    eff = keys.copy()
    eff["eta"], eff["eta_se"], eff["pc"], eff["pc_lo"], eff["pc_hi"] = eta, se, pc, lo, hi
    eff["dprime"], eff["dprime_lo"], eff["dprime_hi"] = (
        dprime_from_pc(pc),
        dprime_from_pc(lo),
        dprime_from_pc(hi),
    )
    eff["method"] = "glmm-laplace: typical participant and item"
    label = (keys["condition"] if "condition" in keys else keys.agg(" / ".join, axis=1)).tolist()
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(np.zeros(len(fit.beta)), fit.vcov, size=n_draws, method="cholesky")
    eta_draws = eta[None, :] + draws @ x.T
    # invert pc(d') on a fine d' grid (pc(d') is monotone and smooth; the clamps are the edge rules:
    # pc <= 1/3 -> 0, pc >= pc(DPRIME_MAX) -> DPRIME_MAX); measured error < 1e-5 in d'
    d_grid = np.linspace(0.0, DPRIME_MAX, 4001)
    d_draws = np.interp(link.mu(eta_draws), pc_from_dprime(d_grid), d_grid)
    d_hat = eff["dprime"].to_numpy()
    rows = []
    for a, b in combinations(range(len(label)), 2):
        diff = d_draws[:, a] - d_draws[:, b]
        e_se = float(np.sqrt(max(cov[a, a] + cov[b, b] - 2 * cov[a, b], 0.0)))
        e_diff = float(eta[a] - eta[b])
        rows.append(
            {
                "condition_a": label[a],
                "condition_b": label[b],
                "dprime_a": float(d_hat[a]),
                "dprime_b": float(d_hat[b]),
                "dprime_diff_lo": float(np.quantile(diff, (1 - level) / 2)),
                "dprime_diff_hi": float(np.quantile(diff, (1 + level) / 2)),
                "eta_diff": e_diff,
                "eta_diff_se": e_se,
                "p_value": float(2 * stats.norm.sf(abs(e_diff) / e_se)) if e_se > 0 else np.nan,
            }
        )
    con = pd.DataFrame(rows, columns=[c for c in CONTRAST_COLUMNS if c != "dprime_diff"])
    con.insert(4, "dprime_diff", con["dprime_a"] - con["dprime_b"])
    return eff, con
