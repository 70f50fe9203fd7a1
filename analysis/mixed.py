"""Binomial mixed model of correctness, with a GEE alternative; effects as a tidy table.

The model is ``correct ~ similarity_z * C(group) + (1 | participant) + (1 | item)`` on the logit scale
(``similarity_z`` is the trial's model similarity standardised over the analysed trials, so its
coefficient is the change in log-odds per SD of similarity and the default N(0, 2) priors on the
fixed effects are weak). For tables without a model axis the fixed part is the full factorial of the
condition columns. It is fitted with statsmodels' :class:`BinomialBayesMixedGLM`:

* ``"vb"`` (default): variational Bayes (``fit_vb``, mean-field, optimised with L-BFGS-B, which
  reached the same optimum as the default BFGS in a fraction of the evaluations); its posterior SDs
  of fixed effects are known to be too small when fixed and random effects are correlated.
* ``"map"`` (optional): the joint posterior mode with a Laplace covariance (``fit_map``). The joint
  mode over random effects and their log-SDs degenerates towards SD = 0 when item or participant
  variation is small (seen on simulated data, where it also took minutes), so it is not run by default.

``"gee"`` fits the same fixed part by GEE (exchangeable within participant, robust SEs), which
ignores the item effect but makes no distributional assumption about participants. Intervals of the
Bayesian fits are ``mean +/- z * SD`` of the approximate posterior; variance components are
reported as SDs of the random intercepts (log-odds).

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> t = pd.DataFrame({"participant": rng.integers(0, 5, 400).astype(str),
...                   "item": rng.integers(0, 8, 400).astype(str),
...                   "similarity": rng.uniform(0.5, 1, 400), "group": "shape"})
>>> t["correct"] = (rng.random(400) < 1 - 0.6 * t["similarity"]).astype(int)
>>> res = fit_mixed(t, methods=("vb",), gee=False)
>>> bool(res.effects.query("term == 'similarity_z'")["estimate"].iloc[0] < 0)
True
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

COLUMNS = ["method", "term", "kind", "estimate", "sd", "lo", "hi", "p_value"]


@dataclass
class MixedResult:
    """Fitted mixed models.

    Attributes
    ----------
    effects : pandas.DataFrame
        ``method, term, kind (fixed|random_sd), estimate, sd, lo, hi, p_value``.
    formula : str
        The fixed-effects formula (with standardised predictors).
    random : list of str
        Random-intercept factors.
    standardisation : dict
        ``{column: (mean, sd)}`` used for ``<column>_z``.
    notes : list of str
        Warnings raised by the fits.
    """

    effects: pd.DataFrame
    formula: str
    random: list[str]
    n_trials: int
    standardisation: dict[str, tuple[float, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _safe(name: str) -> str:
    s = re.sub(r"\W", "_", str(name))
    return s if re.match(r"[A-Za-z_]", s) else f"v_{s}"


def default_formula(trials: pd.DataFrame, condition_cols: Sequence[str] = ()) -> str:
    """The default fixed-effects formula for a trial table.

    ``similarity_z * C(group)`` when a model similarity exists (``distance_z`` for a numeric
    predictor without similarity), dropping ``C(group)`` with a single group; else the full factorial
    of the condition columns; else an intercept.

    Examples
    --------
    >>> import pandas as pd
    >>> default_formula(pd.DataFrame({"similarity": [0.9], "group": ["shape"]}))
    'correct ~ similarity_z'
    >>> t = pd.DataFrame({"model": ["a", "b"], "presentation": ["x", "y"]})
    >>> default_formula(t, ["model", "presentation"])
    'correct ~ C(model) * C(presentation)'
    """
    for col in ("similarity", "distance"):
        if col in trials and trials[col].notna().any():
            many = "group" in trials and trials["group"].nunique() > 1
            return f"correct ~ {col}_z * C(group)" if many else f"correct ~ {col}_z"
    conds = [c for c in condition_cols if c in trials and trials[c].nunique() > 1]
    if conds:
        return "correct ~ " + " * ".join(f"C({_safe(c)})" for c in conds)
    return "correct ~ 1"


def _prepare(trials: pd.DataFrame, formula: str, random: Sequence[str]) -> tuple[pd.DataFrame, dict]:
    data = pd.DataFrame({"correct": trials["correct"].astype(float).to_numpy()})
    scale = {}
    for col in trials.columns:
        safe = _safe(col)
        if f"{safe}_z" in formula:
            v = trials[col].astype(float).to_numpy()
            mu, sd = float(np.nanmean(v)), float(np.nanstd(v))
            data[f"{safe}_z"] = (v - mu) / (sd if sd > 0 else 1.0)
            scale[col] = (mu, sd)
        elif re.search(rf"\b{re.escape(safe)}\b", formula) or col in random:
            data[safe] = trials[col].to_numpy()
    keep = data.notna().all(axis=1)
    return data[keep].reset_index(drop=True), scale


def _bayes(data: pd.DataFrame, formula: str, random: list[str], method: str, z: float) -> list[dict]:
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    vc = {r: f"0 + C({_safe(r)})" for r in random}
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
    methods: Sequence[str] = ("vb",),
    gee: bool = True,
    level: float = 0.95,
    condition_cols: Sequence[str] = (),
) -> MixedResult:
    """Fit the binomial mixed model (and the GEE alternative) to analysed trials.

    Parameters
    ----------
    trials : pandas.DataFrame
        Analysed trials: ``correct``, the random-effect columns and the formula's columns.
    formula : str, optional
        Fixed part, e.g. ``"correct ~ similarity_z * C(group)"``; a ``<col>_z`` term is ``<col>``
        standardised. Default: :func:`default_formula`.
    random : sequence of str
        Random-intercept factors (those with fewer than two levels are dropped).
    methods : sequence of {"vb", "map"}
        Bayesian fits to run.
    gee : bool
        Also fit the GEE alternative (needs a ``participant`` column).
    level : float
        Interval level.
    condition_cols : sequence of str
        Used by the default formula for tables without a model axis.

    Returns
    -------
    MixedResult
    """
    formula = formula or default_formula(trials, condition_cols)
    random = [r for r in random if r in trials and trials[r].nunique() > 1]
    data, scale = _prepare(trials, formula, random)
    z = stats.norm.ppf(0.5 + level / 2)
    rows: list[dict] = []
    notes: list[str] = []
    if data["correct"].nunique() < 2:
        notes.append(
            f"not fitted: all {len(data)} analysed responses are "
            f"{'correct' if data['correct'].iloc[0] else 'incorrect'}, so a binomial model is not identifiable"
        )
        return MixedResult(pd.DataFrame(rows, columns=COLUMNS), formula, random, len(data), scale, notes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for method in methods:
            if method not in ("vb", "map"):
                raise ValueError(f"method {method!r} is not one of 'vb', 'map'")
            if random:
                rows += _bayes(data, formula, random, method, z)
        if gee and "participant" in data and data["participant"].nunique() > 1:
            rows += _gee(data, formula, level)
    notes += sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    effects = pd.DataFrame(rows, columns=COLUMNS)
    return MixedResult(effects, formula, random, len(data), scale, notes)
