"""Full-Bayesian binomial mixed model (PyMC's NUTS), reported only when the sampler converged.

The model is the one :mod:`analysis.mixed` fits by Laplace (the same patsy fixed-effects matrix, the
same lme4-style random terms, the logit or the oddity guess-rate link)::

    eta = X beta + sum over terms g of Z_g b_g[level],   b_g[level] ~ MVN(0, Sigma_g)
    k ~ Binomial(m, mu(eta)),  mu = logistic(eta)  or  1/3 + 2/3 logistic(eta)

built directly in PyMC (not through bambi's formula layer), so that the columns are patsy's, the
random slopes are correlated as in lme4 and brms (bambi's are independent), and the oddity link is a
plain log-likelihood term. Trials with identical covariates are collapsed into binomial counts
(the same likelihood). Random effects are non-centred, ``b = z L'`` with ``z ~ Normal(0, 1)``.

Priors (:data:`PRIORS`), weakly informative and stated in every table:

* fixed effects ``Normal(0, 2.5)`` on the linear-predictor scale: 2 SD (±5 log-odds) spans pc from
  0.007 to 0.993 around 0.5, so any plausible effect is allowed while separation cannot run to
  infinity; with a standard error ``s`` the prior moves an estimate by a fraction ``s² / 2.5²``;
* random-effect SDs ``HalfStudentT(3, 2.5)``, brms's default for class ``sd``;
* correlations of random slopes ``LKJ(1)`` (uniform over correlation matrices), brms's default.

Refusal rule (:attr:`BayesFit.converged`): the fit is reported only when every fixed effect, SD,
correlation and random-effect level has rank-normalised split R-hat <= 1.01 and bulk and tail ESS >=
100 per chain (Vehtari et al. 2021; the rule rstan and brms warn by), and no transition diverged
after tuning. At least two chains are required (R-hat compares chains).

Examples
--------
>>> PRIORS["fixed"], PRIORS["sd"], PRIORS["cor"]
('Normal(0, 2.5)', 'HalfStudentT(3, 2.5)', 'LKJ(1)')
>>> check_settings(draws=1000, tune=1000, chains=1, target_accept=0.9, level=0.95)
Traceback (most recent call last):
...
stimuli.errors.MRDError: Bayesian fit: chains = 1, but R-hat compares chains: give at least 2
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.binomial import LOGIT, Link
from analysis.glmm import _aggregate
from analysis.glmm_terms import RandomTerm
from stimuli.errors import MRDError

FIXED_SD = 2.5
SD_NU, SD_SCALE = 3.0, 2.5
LKJ_ETA = 1.0
PRIORS = {
    "fixed": f"Normal(0, {FIXED_SD:g})",
    "sd": f"HalfStudentT({SD_NU:g}, {SD_SCALE:g})",
    "cor": f"LKJ({LKJ_ETA:g})",
}
MAX_RHAT = 1.01
ESS_PER_CHAIN = 100
INSTALL = "pip install 'mrd-suite[bayes]'"
TABLE_COLUMNS = ["term", "kind", "prior", "mean", "sd", "lo", "hi", "rhat", "ess_bulk", "ess_tail"]
DIAGNOSTIC_COLUMNS = ["term", "kind", "prior", "rhat", "ess_bulk", "ess_tail"]


def require() -> None:
    """Raise a clear :class:`MRDError` when the optional Bayesian extra is not installed.

    Examples
    --------
    >>> require()  # the extra is installed in the development environment
    """
    try:
        import arviz  # noqa: F401
        import pymc  # noqa: F401
    except ImportError as exc:
        raise MRDError(
            f"the Bayesian mixed model (--mixed-method bayes) needs PyMC and ArviZ, which are not "
            f"installed ({exc}); install the optional extra: {INSTALL}"
        ) from None


def check_settings(draws: int, tune: int, chains: int, target_accept: float, level: float) -> None:
    """Refuse sampler settings that cannot give a reportable fit (named, with the value given).

    Examples
    --------
    >>> check_settings(draws=500, tune=500, chains=2, target_accept=0.9, level=0.95)
    """
    if int(chains) < 2:
        raise MRDError(f"Bayesian fit: chains = {chains}, but R-hat compares chains: give at least 2")
    if int(draws) < 4:
        raise MRDError(f"Bayesian fit: draws = {draws}; give at least 4 draws per chain (1000 is typical)")
    if int(tune) < 0:
        raise MRDError(f"Bayesian fit: tune = {tune}; give a non-negative number of tuning steps")
    if not 0 < float(target_accept) < 1:
        raise MRDError(f"Bayesian fit: target_accept = {target_accept}; give a value in (0, 1), e.g. 0.9")
    if not 0 < float(level) < 1:
        raise MRDError(f"Bayesian fit: interval level = {level}; give a value in (0, 1)")


@dataclass
class BayesFit:
    """A PyMC fit of the mixed model with its diagnostics; its numbers are results only if ``converged``.

    Attributes
    ----------
    diagnostics : pandas.DataFrame
        ``term, kind, prior, rhat, ess_bulk, ess_tail`` for every reported parameter, plus one row
        per random-effects term with the worst of its levels (``kind = "random_levels"``).
    converged : bool
        The refusal rule passed (R-hat, ESS, no divergences).
    problems : list of str
        Why the fit is refused (empty when converged).
    settings : dict
        Sampler settings and totals: draws, tune, chains, seed, target_accept, cores, level,
        max_rhat, min_ess, divergences, n_cells, link, seconds.
    idata : object
        The ArviZ InferenceData (raw draws, for diagnosis such as ``arviz.plot_trace``).
    notes : list of str
        Messages for the report.
    """

    diagnostics: pd.DataFrame
    converged: bool
    problems: list[str]
    settings: dict[str, Any]
    idata: Any = None
    notes: list[str] = field(default_factory=list)
    _posterior: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def refusal(self) -> str:
        """The message that replaces the numbers of an unconverged fit."""
        s = self.settings
        return (
            f"the Bayesian mixed model is not reported: the sampler did not converge "
            f"({'; '.join(self.problems)}; {s['chains']} chains x {s['draws']} draws after {s['tune']} "
            f"tuning steps, seed {s['seed']}); rerun with more draws and tuning (--bayes-draws, "
            f"--bayes-tune), more chains (--bayes-chains) or, for divergences, a higher "
            f"--bayes-target-accept (now {s['target_accept']:g})"
        )

    def table(self) -> pd.DataFrame:
        """Posterior mean, SD, equal-tailed credible interval, prior, R-hat and ESS per parameter.

        Raises
        ------
        MRDError
            When the fit did not converge (the numbers are not results).
        """
        if not self.converged:
            raise MRDError(self.refusal())
        return self._posterior.copy()

    def report_table(self) -> pd.DataFrame:
        """:meth:`table` when converged, else the diagnostics alone (no estimates)."""
        return self.table() if self.converged else self.diagnostics.copy()

    def rows(self) -> list[dict]:
        """Rows ``glmm-bayes`` for :class:`analysis.mixed.MixedResult.effects` (none when refused)."""
        if not self.converged:
            return []
        return [
            {
                "method": "glmm-bayes",
                "term": r.term,
                "kind": r.kind,
                "estimate": r.mean,
                "sd": r.sd,
                "lo": r.lo,
                "hi": r.hi,
                "p_value": np.nan,
            }
            for r in self._posterior.itertuples()
        ]


def _model(k: np.ndarray, m: np.ndarray, x: np.ndarray, terms: Sequence[RandomTerm], link: Link) -> Any:
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model() as model:
        beta = pm.Normal("beta", 0.0, FIXED_SD, shape=x.shape[1])
        eta = pt.dot(x, beta)
        for j, t in enumerate(terms):
            q, n_lev = t.z.shape[1], len(t.levels)
            z = pm.Normal(f"z_{j}", 0.0, 1.0, shape=(n_lev, q))
            if q == 1:
                sd = pm.HalfStudentT(f"sd_{j}", nu=SD_NU, sigma=SD_SCALE)
                b = pm.Deterministic(f"b_{j}", z * sd)
            else:
                chol, _, _ = pm.LKJCholeskyCov(
                    f"L_{j}",
                    eta=LKJ_ETA,
                    n=q,
                    sd_dist=pm.HalfStudentT.dist(nu=SD_NU, sigma=SD_SCALE, shape=q),
                    compute_corr=True,
                )
                b = pm.Deterministic(f"b_{j}", pt.dot(z, chol.T))
            eta = eta + (t.z * b[t.codes]).sum(axis=1)
        if link.guess == 0:
            pm.Binomial("k", n=m, logit_p=eta, observed=k)
        else:
            g = link.guess
            log_s, log_1s = -pt.softplus(-eta), -pt.softplus(eta)
            log_mu = pt.logaddexp(np.log(g), np.log1p(-g) + log_s)
            pm.Potential("loglik", pt.sum(k * log_mu + (m - k) * (np.log1p(-g) + log_1s)))
    return model


def _draws(idata: Any, names: list[str], terms: Sequence[RandomTerm]) -> tuple[list, list]:
    """``[(term, kind, prior, draws (chain, draw))]`` for reported parameters, and per-term level draws."""
    post = idata.posterior
    out = [(n, "fixed", PRIORS["fixed"], post["beta"].values[..., i]) for i, n in enumerate(names)]
    levels, cors = [], []
    for j, t in enumerate(terms):
        q = t.z.shape[1]
        sds = post[f"sd_{j}"].values[..., None] if q == 1 else post[f"L_{j}_stds"].values
        for c, col in enumerate(t.names):
            name = t.group if col in ("Intercept", "(Intercept)") else f"{t.group}:{col}"
            out.append((name, "random_sd", PRIORS["sd"], sds[..., c]))
        if q > 1:
            corr = post[f"L_{j}_corr"].values
            for a in range(q):
                for c in range(a + 1, q):
                    name = f"{t.group}:cor({t.names[a]}, {t.names[c]})"
                    cors.append((name, "random_cor", PRIORS["cor"], corr[..., a, c]))
        b = post[f"b_{j}"].values
        levels.append((t, b.reshape(b.shape[0], b.shape[1], -1)))
    return out + cors, levels  # SDs, then correlations, as the Laplace rows


def _diag(a: np.ndarray) -> tuple[float, float, float]:
    import arviz as az

    return float(az.rhat(a)), float(az.ess(a, method="bulk")), float(az.ess(a, method="tail"))


def fit_bayes(
    y: np.ndarray,
    x: np.ndarray,
    names: list[str],
    terms: Sequence[RandomTerm],
    link: Link = LOGIT,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int = 0,
    target_accept: float = 0.9,
    cores: int = 1,
    level: float = 0.95,
    max_rhat: float = MAX_RHAT,
    min_ess: float | None = None,
    progressbar: bool = False,
) -> BayesFit:
    """Sample the posterior of the binomial mixed model with NUTS and judge convergence.

    Parameters
    ----------
    y : numpy.ndarray
        0/1 correctness per trial.
    x : numpy.ndarray
        ``(n, p)`` fixed-effects design (patsy's, as the Laplace fit uses it).
    names : list of str
        Column names of ``x``.
    terms : sequence of RandomTerm
        Random-effects terms (:func:`analysis.mixed._term_design`).
    link : Link
        :data:`analysis.binomial.LOGIT` or :func:`analysis.binomial.oddity_link`.
    draws, tune, chains : int
        Draws kept per chain, tuning steps per chain, chains (at least 2).
    seed : int
        Seed; with the same seed and settings the draws are identical.
    target_accept : float
        NUTS step-size target (higher: smaller steps, fewer divergences).
    cores : int
        Chains run in parallel (the draws do not depend on it).
    level : float
        Level of the equal-tailed credible intervals.
    max_rhat : float
        Largest R-hat accepted (1.01).
    min_ess : float, optional
        Smallest bulk and tail ESS accepted (default 100 per chain).
    progressbar : bool
        Show PyMC's progress bar.

    Returns
    -------
    BayesFit
        With ``converged = False`` and no estimates when the refusal rule fails.

    Examples
    --------
    >>> from analysis.glmm_terms import RandomTerm
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(6), 20)
    >>> y = (rng.random(120) < 0.7).astype(float)
    >>> term = RandomTerm("participant", g, [str(i) for i in range(6)], np.ones((120, 1)), ["Intercept"])
    >>> fit = fit_bayes(y, np.ones((120, 1)), ["Intercept"], [term], draws=20, tune=20, chains=2)
    >>> fit.converged, fit.rows(), any("ESS" in p for p in fit.problems)  # 40 draws: refused
    (False, [], True)
    >>> list(fit.diagnostics["term"])
    ['Intercept', 'participant', 'participant: 6 levels (worst)']
    """
    require()
    check_settings(draws, tune, chains, target_accept, level)
    import pymc as pm

    min_ess = float(ESS_PER_CHAIN * chains if min_ess is None else min_ess)
    xa, _, cells, k, m = _aggregate(np.asarray(y, float), np.asarray(x, float), terms, None)
    start = time.perf_counter()
    log = logging.getLogger("pymc")
    old = log.level
    if not progressbar:
        log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
            with _model(k, m, xa, cells, link):
                idata = pm.sample(
                    draws=int(draws),
                    tune=int(tune),
                    chains=int(chains),
                    cores=int(cores),
                    random_seed=int(seed),
                    target_accept=float(target_accept),
                    progressbar=progressbar,
                    compute_convergence_checks=False,
                )
    finally:
        log.setLevel(old)
    reported, levels = _draws(idata, names, cells)
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    post_rows, diag_rows = [], []
    for name, kind, prior, a in reported:
        rhat, eb, et = _diag(a)
        flat = a.ravel()
        diag_rows.append([name, kind, prior, rhat, eb, et])
        lo, hi = np.quantile(flat, [lo_q, hi_q])
        post_rows.append([name, kind, prior, flat.mean(), flat.std(ddof=1), lo, hi, rhat, eb, et])
    for t, b in levels:
        stats = np.array([_diag(b[..., i]) for i in range(b.shape[-1])])
        rhat = np.inf if np.isnan(stats[:, 0]).any() else stats[:, 0].max()
        diag_rows.append(
            [f"{t.group}: {len(t.levels)} levels (worst)", "random_levels", "", rhat, *stats[:, 1:].min(0)]
        )
    diagnostics = pd.DataFrame(diag_rows, columns=DIAGNOSTIC_COLUMNS)
    n_div = int(idata.sample_stats["diverging"].values.sum())
    problems = _problems(diagnostics, n_div, max_rhat, min_ess)
    settings = {
        "draws": int(draws),
        "tune": int(tune),
        "chains": int(chains),
        "seed": int(seed),
        "target_accept": float(target_accept),
        "cores": int(cores),
        "level": float(level),
        "max_rhat": float(max_rhat),
        "min_ess": min_ess,
        "divergences": n_div,
        "n_cells": len(k),
        "link": link.name,
        "seconds": time.perf_counter() - start,
    }
    fit = BayesFit(diagnostics, not problems, problems, settings, idata)
    if problems:
        fit.notes.append("glmm-bayes: " + fit.refusal())
    else:
        fit._posterior = pd.DataFrame(post_rows, columns=TABLE_COLUMNS)
    return fit


def _problems(diagnostics: pd.DataFrame, n_div: int, max_rhat: float, min_ess: float) -> list[str]:
    out = []
    d = diagnostics
    rhat = d["rhat"].fillna(np.inf)
    if (rhat > max_rhat).any():
        worst = d.loc[rhat.idxmax()]
        out.append(f"max R-hat {worst['rhat']:.3f} > {max_rhat:g} ({worst['term']})")
    for col, what in (("ess_bulk", "bulk"), ("ess_tail", "tail")):
        ess = d[col].fillna(0.0)
        if (ess < min_ess).any():
            worst = d.loc[ess.idxmin()]
            out.append(f"min {what} ESS {worst[col]:.0f} < {min_ess:g} ({worst['term']})")
    if n_div:
        out.append(f"{n_div} divergent transition(s) after tuning")
    return out
