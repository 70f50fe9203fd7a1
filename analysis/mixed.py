"""Binomial mixed model of correctness (lme4's Laplace fit by default), with VB, MAP and GEE options.

The default model is ``correct ~ similarity_z * C(group) + (1 | participant) + (1 | item)`` on the
logit scale (``similarity_z`` is the trial's model similarity standardised over the analysed
trials, so its coefficient is the change in log-odds per SD of similarity). For tables without a
model axis the fixed part is the full factorial of the condition columns. Random effects are
given lme4-style, inside the formula or through ``random``: ``"participant"`` means
``(1 | participant)``; ``"(1 + presentation | participant)"`` adds a correlated random slope.

Methods (``methods``):

* ``"laplace"`` (default): the Laplace approximation of the marginal likelihood, maximised over
  fixed effects and random-effect covariance parameters, as ``lme4::glmer`` (``nAGQ = 1``) does;
  deterministic; SEs as glmer reports them (:mod:`analysis.glmm`). Checked against glmer on the
  Wallis et al. (2017) data (tests/data/r).
* ``"vb"``: statsmodels' variational Bayes (``BinomialBayesMixedGLM.fit_vb``, mean-field, random
  intercepts only). Its posterior SDs of fixed effects are too small when fixed and random effects
  are correlated (0.09-0.50 x glmer's SEs on the Wallis data): use it for point estimates only.
* ``"map"``: statsmodels' joint posterior mode with a Laplace covariance (random intercepts only).
* ``"bayes"``: full Bayes with PyMC's NUTS (optional extra), the same model and link, stated priors,
  reported only when converged (:mod:`analysis.bayes`; options in ``bayes_options``).

``gee=True`` adds the same fixed part by GEE (exchangeable within participant, robust SEs; it
ignores the item effect; not run by default).
``link="oddity"`` fits ``pc = 1/3 + 2/3 logistic(eta)`` (psyphy's ``mafc.logit(3)``) with the
Laplace method instead of the logit.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> t = pd.DataFrame({"participant": rng.integers(0, 5, 400).astype(str),
...                   "item": rng.integers(0, 8, 400).astype(str),
...                   "similarity": rng.uniform(0.5, 1, 400), "group": "shape"})
>>> t["correct"] = (rng.random(400) < 1 - 0.6 * t["similarity"]).astype(int)
>>> res = fit_mixed(t)
>>> bool(res.effects.query("term == 'similarity_z'")["estimate"].iloc[0] < 0)
True
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.binomial import LOGIT, oddity_link
from analysis.formula import default_formula, parse_random, safe_name, split_formula
from analysis.glmm import fit_laplace
from analysis.glmm_terms import LaplaceFit, RandomTerm
from stimuli.errors import MRDError

COLUMNS = ["method", "term", "kind", "estimate", "sd", "lo", "hi", "p_value"]
METHODS = ("laplace", "vb", "map", "bayes")
LINKS = {"logit": LOGIT, "oddity": oddity_link(3)}
__all__ = ["COLUMNS", "LINKS", "METHODS", "MixedResult", "default_formula", "fit_mixed", "parse_random",
           "split_formula"]


@dataclass
class MixedResult:
    """Fitted mixed models.

    Attributes
    ----------
    effects : pandas.DataFrame
        ``method, term, kind (fixed|random_sd|random_cor), estimate, sd, lo, hi, p_value``.
    formula : str
        The fixed-effects formula (with standardised predictors).
    random : list of str
        Grouping factors of the random effects.
    standardisation : dict
        ``{column: (mean, sd)}`` used for ``<column>_z``.
    notes : list of str
        Warnings raised by the fits.
    random_terms : list of str
        The random-effects terms, lme4-style (``"(1 | participant)"``).
    link : str
        ``"logit"`` or ``"oddity"``.
    laplace : LaplaceFit or None
        The Laplace fit (fixed effects, covariance) behind the ``glmm-laplace`` rows.
    design_info : object
        The patsy design of the fixed part (to predict new rows).
    """

    effects: pd.DataFrame
    formula: str
    random: list[str]
    n_trials: int
    standardisation: dict[str, tuple[float, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    random_terms: list[str] = field(default_factory=list)
    link: str = "logit"
    laplace: LaplaceFit | None = None
    design_info: Any = None
    methods: list[str] = field(default_factory=list)
    bayes: Any = None  # analysis.bayes.BayesFit of method "bayes" (refused when not converged)


def _prepare(trials: pd.DataFrame, text: str, groups: Sequence[str]) -> tuple[pd.DataFrame, dict]:
    data = pd.DataFrame({"correct": trials["correct"].astype(float).to_numpy()})
    scale = {}
    for col in trials.columns:
        safe = safe_name(col)
        if f"{safe}_z" in text:
            v = pd.to_numeric(trials[col], errors="coerce").to_numpy(float)
            mu, sd = float(np.nanmean(v)), float(np.nanstd(v))
            data[f"{safe}_z"] = (v - mu) / (sd if sd > 0 else 1.0)
            scale[col] = (mu, sd)
        if (re.search(rf"\b{re.escape(safe)}\b", text) or col in groups) and safe != "correct":
            v = trials[col]
            numeric = pd.api.types.is_numeric_dtype(v) or pd.api.types.is_bool_dtype(v)
            # categories as pandas Categoricals: patsy reads those without a Python loop per row
            data[safe] = v.to_numpy() if numeric else pd.Categorical(v.astype(str).where(v.notna()))
    keep = data.notna().all(axis=1)
    return data[keep].reset_index(drop=True), scale


def _check_rank(x: np.ndarray, names: list[str], data: pd.DataFrame, trials: pd.DataFrame) -> None:
    xtx = x.T @ x
    d = np.sqrt(np.maximum(np.diag(xtx), 1e-300))
    ev = np.linalg.eigvalsh(xtx / np.outer(d, d))
    if ev.min() > 1e-10 * ev.max():
        return
    msg = ""
    if "condition" in trials:
        cond = trials.loc[trials["correct"].notna(), "condition"].astype(str).to_numpy()[: len(data)]
        for col in [c for c in data.columns if c.endswith("_z")]:
            if len(data) == len(cond) and data.groupby(cond)[col].nunique().max() <= 1:
                msg = (
                    f"predictor {col[:-2]!r} is constant within every condition, so its effect cannot be "
                    "separated from the condition effects (the mixed model and GEE would report "
                    "meaningless numbers); give a predictor that varies within conditions, a group column "
                    "(--group-col) that does not determine it, or --no-mixed"
                )
    raise MRDError(
        msg
        or f"the fixed-effects design ({', '.join(names)}) is rank deficient: some terms are linear "
        "combinations of others (empty or aliased cells); simplify the formula"
    )


def _term_design(lhs: str, grp: str, data: pd.DataFrame) -> RandomTerm:
    import patsy

    if grp not in data:
        raise MRDError(f"random-effects term ({lhs} | {grp}): no column {grp!r} in the trials")
    z = patsy.dmatrix(lhs, data, return_type="dataframe", NA_action="raise")
    codes, levels = pd.factorize(data[grp].astype(str), sort=True)
    return RandomTerm(grp, codes, [str(v) for v in levels], z.to_numpy(float), list(z.columns))


def _laplace(
    data: pd.DataFrame, x: np.ndarray, names: list[str], terms: list[RandomTerm], link: str, z: float
) -> tuple[list[dict], LaplaceFit]:
    fit = fit_laplace(data["correct"].to_numpy(float), x, terms, LINKS[link])
    rows = []
    for t, b, s in zip(names, fit.beta, fit.se, strict=True):
        rows.append(
            {
                "method": "glmm-laplace",
                "term": t,
                "kind": "fixed",
                "estimate": float(b),
                "sd": float(s),
                "lo": float(b - z * s),
                "hi": float(b + z * s),
                "p_value": float(2 * stats.norm.sf(abs(b / s))) if s > 0 else np.nan,
            }
        )
    for (grp, col, sd), se in zip(fit.sd(), fit.sd_se(), strict=True):
        name = grp if col in ("Intercept", "(Intercept)") else f"{grp}:{col}"
        rel = se / sd if sd > 0 else np.nan
        rows.append(
            {
                "method": "glmm-laplace",
                "term": name,
                "kind": "random_sd",
                "estimate": sd,
                "sd": se,
                "lo": float(sd * np.exp(-z * rel)) if np.isfinite(rel) else np.nan,
                "hi": float(sd * np.exp(z * rel)) if np.isfinite(rel) else np.nan,
                "p_value": np.nan,
            }
        )
    for grp, a, b, r in fit.cor():
        rows.append(
            {
                "method": "glmm-laplace",
                "term": f"{grp}:cor({a}, {b})",
                "kind": "random_cor",
                "estimate": r,
                "sd": np.nan,
                "lo": np.nan,
                "hi": np.nan,
                "p_value": np.nan,
            }
        )
    return rows, fit


def _bayes(data: pd.DataFrame, formula: str, random: list[str], method: str, z: float) -> list[dict]:
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    vc = {r: f"0 + C({safe_name(r)})" for r in random}
    model = BinomialBayesMixedGLM.from_formula(formula, vc, data)
    res = model.fit_vb(fit_method="L-BFGS-B") if method == "vb" else model.fit_map()
    label = f"glmm-{method}"
    rows = [
        {
            "method": label,
            "term": t,
            "kind": "fixed",
            "estimate": m,
            "sd": s,
            "lo": m - z * s,
            "hi": m + z * s,
            "p_value": np.nan,
        }
        for t, m, s in zip(model.exog_names, res.fe_mean, res.fe_sd, strict=True)
    ]
    rows += [
        {
            "method": label,
            "term": t,
            "kind": "random_sd",
            "estimate": float(np.exp(m)),
            "sd": float(np.exp(m) * s),
            "lo": float(np.exp(m - z * s)),
            "hi": float(np.exp(m + z * s)),
            "p_value": np.nan,
        }
        for t, m, s in zip(model.vcp_names, res.vcp_mean, res.vcp_sd, strict=True)
    ]
    return rows


def _gee(data: pd.DataFrame, formula: str, level: float) -> list[dict]:
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    res = smf.gee(
        formula,
        groups="participant",
        data=data,
        family=sm.families.Binomial(),
        cov_struct=sm.cov_struct.Exchangeable(),
    ).fit()
    ci = res.conf_int(alpha=1 - level)
    return [
        {
            "method": "gee",
            "term": t,
            "kind": "fixed",
            "estimate": float(res.params[t]),
            "sd": float(res.bse[t]),
            "lo": float(ci.loc[t, 0]),
            "hi": float(ci.loc[t, 1]),
            "p_value": float(res.pvalues[t]),
        }
        for t in res.params.index
    ]


def fit_mixed(
    trials: pd.DataFrame,
    formula: str | None = None,
    random: Sequence[str] = ("participant", "item"),
    methods: Sequence[str] = ("laplace",),
    gee: bool = False,
    level: float = 0.95,
    condition_cols: Sequence[str] = (),
    link: str = "logit",
    bayes_options: dict[str, Any] | None = None,
) -> MixedResult:
    """Fit the binomial mixed model (and the GEE alternative) to analysed trials.

    Parameters
    ----------
    trials : pandas.DataFrame
        Analysed trials: ``correct``, the random-effect columns and the formula's columns.
    formula : str, optional
        ``"correct ~ similarity_z * C(group)"``, optionally with lme4-style random terms
        (``+ (1 + presentation | participant)``), which then replace ``random``. A ``<col>_z`` term
        is ``<col>`` standardised. Default: :func:`default_formula`.
    random : sequence of str
        Random-effects terms: grouping factors (random intercepts) or ``"(lhs | group)"``; factors
        with fewer than two levels are dropped.
    methods : sequence of {"laplace", "vb", "map", "bayes"}
        Mixed-model fits to run (``"laplace"``: glmer's; ``"vb"``, ``"map"``: statsmodels'
        approximations; ``"bayes"``: PyMC's NUTS, see :func:`analysis.bayes.fit_bayes`).
    gee : bool
        Also fit the GEE alternative (needs a ``participant`` column). Off by default: the Laplace
        SEs are glmer's, and GEE ignores the item effect.
    level : float
        Interval level.
    condition_cols : sequence of str
        Used by the default formula for tables without a model axis.
    link : {"logit", "oddity"}
        ``"oddity"``: ``pc = 1/3 + 2/3 logistic(eta)`` (Laplace and bayes fits only).
    bayes_options : dict, optional
        Keyword arguments of :func:`analysis.bayes.fit_bayes` (draws, tune, chains, seed, ...).

    Returns
    -------
    MixedResult

    Raises
    ------
    MRDError
        For an unknown method or link, a rank-deficient design (e.g. a predictor constant within
        every condition), or a random-effects term naming a missing column.
    """
    import patsy

    if link not in LINKS:
        raise MRDError(f"link {link!r} is not one of {', '.join(LINKS)}")
    for method in methods:
        if method not in METHODS:
            raise MRDError(f"mixed-model method {method!r} is not one of {', '.join(METHODS)}")
    fixed, in_formula = split_formula(formula or default_formula(trials, condition_cols))
    specs = in_formula or [parse_random(r) for r in random]
    specs = [(lhs, g) for lhs, g in specs if g in trials and trials[g].nunique() > 1]
    groups = list(dict.fromkeys(g for _, g in specs))
    text = fixed + " " + " ".join(lhs for lhs, _ in specs)
    data, scale = _prepare(trials, text, groups)
    z = stats.norm.ppf(0.5 + level / 2)
    rows: list[dict] = []
    notes: list[str] = []
    labels = [f"({lhs} | {g})" for lhs, g in specs]
    result = MixedResult(pd.DataFrame(columns=COLUMNS), fixed, groups, len(data), scale, notes, labels, link)
    if len(data) == 0 or data["correct"].nunique() < 2:
        what = "correct" if len(data) and data["correct"].iloc[0] else "incorrect"
        notes.append(
            f"not fitted: all {len(data)} analysed responses are {what}, so a binomial model is not identifiable"
        )
        return result
    rhs = fixed.split("~", 1)[1]
    xdf = patsy.dmatrix(rhs, data, return_type="dataframe", NA_action="raise")
    x, names = xdf.to_numpy(float), list(xdf.columns)
    result.design_info = xdf.design_info
    _check_rank(x, names, data, trials)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for method in methods:
            if not specs:
                continue
            if method == "laplace":
                terms = [_term_design(lhs, g, data) for lhs, g in specs]
                new, result.laplace = _laplace(data, x, names, terms, link, z)
                rows += new
                notes += result.laplace.notes
            elif method == "bayes":
                from analysis.bayes import fit_bayes

                terms = [_term_design(lhs, g, data) for lhs, g in specs]
                y = data["correct"].to_numpy(float)
                opts = {"level": level, **(bayes_options or {})}
                result.bayes = fit_bayes(y, x, names, terms, LINKS[link], **opts)
                rows += result.bayes.rows()
                notes += result.bayes.notes
            elif link != "logit":
                notes.append(f"{method}: skipped (logit link only)")
            else:
                if any(lhs != "1" for lhs, _ in specs):
                    notes.append(
                        f"glmm-{method}: random intercepts only (slopes are fitted by the Laplace method)"
                    )
                rows += _bayes(data, fixed, groups, method, z)
        if gee and link == "logit" and "participant" in data and data["participant"].nunique() > 1:
            rows += _gee(data, fixed, level)
    notes += sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    result.effects = pd.DataFrame(rows, columns=COLUMNS)
    result.methods = [m for m in methods if specs]
    return result
