"""The Bayesian mixed model in the report: its methods sentence, table heading and comparison figure.

Examples
--------
>>> from analysis.bayes import BayesFit
>>> fit = BayesFit(pd.DataFrame(), False, ["max R-hat 1.200 > 1.01 (Intercept)"],
...                {"chains": 2, "draws": 10, "tune": 10, "seed": 0, "target_accept": 0.9})
>>> heading(fit)
'Bayesian mixed model: NOT REPORTED (did not converge; diagnostics only)'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.bayes import PRIORS, BayesFit


def heading(fit: BayesFit) -> str:
    """Report heading of the Bayesian table (says plainly when the fit is refused).

    Examples
    --------
    >>> heading(BayesFit(pd.DataFrame(), True, [], {}))
    'Bayesian mixed model (PyMC NUTS): posterior, priors and convergence diagnostics'
    """
    if fit.converged:
        return "Bayesian mixed model (PyMC NUTS): posterior, priors and convergence diagnostics"
    return "Bayesian mixed model: NOT REPORTED (did not converge; diagnostics only)"


def describe(fit: BayesFit) -> str:
    """The clause of the methods paragraph describing the Bayesian fit (priors, sampler, diagnostics).

    Examples
    --------
    >>> fit = BayesFit(pd.DataFrame({"rhat": [1.001], "ess_bulk": [900.0], "ess_tail": [800.0]}), True, [],
    ...                {"chains": 4, "draws": 1000, "tune": 1000, "seed": 0, "target_accept": 0.9,
    ...                 "max_rhat": 1.01, "min_ess": 400.0, "level": 0.95, "divergences": 0})
    >>> describe(fit)[:60]
    'by full Bayes (PyMC NUTS; rows glmm-bayes: posterior means, '
    """
    s = fit.settings
    how = (
        f"{s['chains']} chains x {s['draws']} draws after {s['tune']} tuning steps, seed {s['seed']}, "
        f"target acceptance {s['target_accept']:g}"
    )
    priors = (
        f"priors {PRIORS['fixed']} on every fixed effect (linear-predictor scale), {PRIORS['sd']} on "
        f"random-effect SDs and {PRIORS['cor']} on their correlations"
    )
    if not fit.converged:
        return (
            f"by full Bayes (PyMC NUTS, {priors}; {how}): the sampler did not converge "
            f"({'; '.join(fit.problems)}), so no Bayesian estimates are reported (diagnostics in "
            "mixed_bayes.csv)"
        )
    d = fit.diagnostics
    return (
        f"by full Bayes (PyMC NUTS; rows glmm-bayes: posterior means, SDs and {100 * s['level']:g}% "
        f"equal-tailed credible intervals; table mixed_bayes) with {priors}; {how}; every parameter and "
        f"random-effect level had R-hat <= {s['max_rhat']:g} (max {d['rhat'].max():.3f}) and bulk and "
        f"tail ESS >= {s['min_ess']:g} (min {min(d['ess_bulk'].min(), d['ess_tail'].min()):.0f}), with "
        f"{s['divergences']} divergent transitions"
    )


def plot_bayes_vs_laplace(effects: pd.DataFrame, ax: Any) -> Any:
    """Fixed effects: Bayesian posterior mean and credible interval beside the Laplace Wald interval.

    Parameters
    ----------
    effects : pandas.DataFrame
        :attr:`analysis.mixed.MixedResult.effects` with ``glmm-bayes`` (and ``glmm-laplace``) rows.
    ax : matplotlib.axes.Axes

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> e = pd.DataFrame({"method": ["glmm-laplace", "glmm-bayes"], "term": ["x", "x"],
    ...                   "kind": "fixed", "estimate": [0.5, 0.52], "lo": [0.1, 0.05], "hi": [0.9, 0.95]})
    >>> plot_bayes_vs_laplace(e, Figure().subplots()).get_ylabel()
    ''
    """
    fixed = effects[effects["kind"] == "fixed"]
    terms = list(dict.fromkeys(fixed["term"]))
    y = np.arange(len(terms))[::-1].astype(float)
    styles = {
        "glmm-laplace": ("Laplace (glmer): estimate, 95% Wald", "#1f77b4", 0.15),
        "glmm-bayes": ("Bayes (PyMC): posterior mean, credible interval", "#d62728", -0.15),
    }
    for method, (label, colour, dy) in styles.items():
        rows = fixed[fixed["method"] == method].set_index("term").reindex(terms)
        if rows["estimate"].notna().any():
            err = np.vstack([rows["estimate"] - rows["lo"], rows["hi"] - rows["estimate"]])
            ax.errorbar(
                rows["estimate"], y + dy, xerr=err, fmt="o", ms=4, color=colour, label=label, capsize=2
            )
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_yticks(y, terms, fontsize=8)
    ax.set_xlabel("fixed effect (linear-predictor scale)")
    ax.legend(fontsize=7, loc="best")
    return ax
