"""Psychometric functions of proportion correct against model distance, fitted by maximum likelihood.

``pc(x) = 1/3 + (2/3 - lapse) * (1 - exp(-(x / alpha) ** beta))``: a Weibull in the model distance
``x`` with the guess rate fixed at 1/3 (oddity chance) and the lapse rate fitted. ``alpha`` is the
distance at which performance has gone 63 % of the way from chance to its ceiling ``1 - lapse``;
``beta`` is the slope.

Parameters are fitted on unconstrained scales (``log alpha``, ``log beta``,
``logit(lapse / 0.5)``) with an analytic gradient (scipy L-BFGS-B, several starts). Intervals are
Wald intervals on those scales from the observed Fisher information (numerical Hessian of the
negative log-likelihood), mapped back, so they stay inside the parameter ranges; a parametric
bootstrap is available as an alternative.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = np.repeat(np.geomspace(0.01, 1, 8), 200)
>>> k = rng.random(x.size) < predict(x, 0.1, 2.0, 0.05)
>>> fit = fit_psychometric(x, k.astype(int))
>>> bool(fit.ci["alpha"][0] < 0.1 < fit.ci["alpha"][1])
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.oddity import GUESS_RATE
from analysis.psychometric_data import _aggregate, check_distances

LAPSE_MAX = 0.5
"""Upper bound of the lapse rate."""

PARAMS = ("alpha", "beta", "lapse")


def predict(x: np.ndarray, alpha: float, beta: float, lapse: float) -> np.ndarray:
    """Proportion correct at distance ``x``.

    Examples
    --------
    >>> predict(np.array([0.0, 1e9]), 0.1, 2.0, 0.05).round(3).tolist()
    [0.333, 0.95]
    """
    u = (np.maximum(np.asarray(x, dtype=float), 0.0) / alpha) ** beta
    return GUESS_RATE - (1.0 - GUESS_RATE - lapse) * np.expm1(-u)


def _unpack(theta: np.ndarray) -> tuple[float, float, float]:
    return float(np.exp(theta[0])), float(np.exp(theta[1])), float(LAPSE_MAX / (1.0 + np.exp(-theta[2])))


def _nll_grad(theta: np.ndarray, logx: np.ndarray, k: np.ndarray, n: np.ndarray) -> tuple[float, np.ndarray]:
    a = theta[0]
    alpha, beta, lapse = _unpack(theta)
    logu = np.clip(beta * (logx - a), -700.0, 700.0)
    u = np.exp(logu)
    fu, fpu = -np.expm1(-u), np.exp(-u)
    p = np.clip(GUESS_RATE + (1.0 - GUESS_RATE - lapse) * fu, 1e-12, 1 - 1e-12)
    nll = -float(np.sum(k * np.log(p) + (n - k) * np.log1p(-p)))
    dnll_dp = -(k / p - (n - k) / (1.0 - p))
    amp = 1.0 - GUESS_RATE - lapse
    du_da = -beta * u
    du_db = np.where(u > 0, u * logu, 0.0)
    grad = np.array(
        [
            np.sum(dnll_dp * amp * fpu * du_da),
            np.sum(dnll_dp * amp * fpu * du_db),
            np.sum(dnll_dp * -fu) * lapse * (1.0 - lapse / LAPSE_MAX),
        ]
    )
    return nll, grad


def _hessian(fun: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, h: float = 1e-5) -> np.ndarray:
    m = len(theta)
    hess = np.empty((m, m))
    for i in range(m):
        e = np.zeros(m)
        e[i] = h
        hess[i] = (fun(theta + e) - fun(theta - e)) / (2 * h)
    return 0.5 * (hess + hess.T)


@dataclass
class PsychometricFit:
    """A fitted psychometric function.

    Attributes
    ----------
    alpha, beta, lapse : float
        Maximum-likelihood estimates.
    ci : dict
        ``{parameter: (lo, hi)}`` at ``level``.
    se_unconstrained : numpy.ndarray
        Standard errors of ``log alpha, log beta, logit(lapse/0.5)``.
    """

    alpha: float
    beta: float
    lapse: float
    ci: dict[str, tuple[float, float]]
    level: float
    n_trials: int
    loglik: float
    converged: bool
    ci_method: str
    se_unconstrained: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Fitted proportion correct at distance ``x``."""
        return predict(x, self.alpha, self.beta, self.lapse)

    def table(self) -> pd.DataFrame:
        """One row per parameter: ``parameter, estimate, lo, hi``."""
        return pd.DataFrame(
            [
                {"parameter": p, "estimate": getattr(self, p), "lo": self.ci[p][0], "hi": self.ci[p][1]}
                for p in PARAMS
            ]
        )


def _mle(
    ux: np.ndarray, k: np.ndarray, n: np.ndarray, start: np.ndarray | None = None
) -> tuple[np.ndarray, float, bool]:
    logx = np.log(np.maximum(ux, 1e-300))
    pos = ux[ux > 0]
    if pos.size == 0:
        raise ValueError("psychometric fit needs positive distances")
    bounds = [(np.log(pos.min()) - 5, np.log(pos.max()) + 5), (-3, 3), (-15, 15)]
    if start is not None:
        starts = [start]
    else:
        starts = [
            np.array([np.log(np.quantile(pos, q)), b0, np.log(0.05 / (LAPSE_MAX - 0.05))])
            for q in (0.25, 0.5, 0.75)
            for b0 in (0.0, np.log(2.0))
        ]
    best = None
    for x0 in starts:
        res = optimize.minimize(_nll_grad, x0, args=(logx, k, n), jac=True, method="L-BFGS-B", bounds=bounds)
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    return best.x, float(best.fun), bool(best.success)


def fit_psychometric(
    x: np.ndarray,
    correct: np.ndarray,
    level: float = 0.95,
    ci: Literal["wald", "bootstrap"] = "wald",
    n_boot: int = 200,
    seed: int = 0,
) -> PsychometricFit:
    """Fit ``pc(x)`` with guess rate 1/3 and a free lapse rate by maximum likelihood.

    Parameters
    ----------
    x : numpy.ndarray
        Model distance per trial (``>= 0``; larger = more different).
    correct : numpy.ndarray
        0/1 per trial.
    level : float
        Confidence level.
    ci : {"wald", "bootstrap"}
        Wald intervals from the observed Fisher information on the unconstrained scale, or
        parametric-bootstrap percentile intervals.
    n_boot : int
        Bootstrap replicates.
    seed : int
        Bootstrap seed.

    Returns
    -------
    PsychometricFit
    """
    x = np.asarray(x, dtype=float)
    check_distances(x)
    correct = np.asarray(correct, dtype=float)
    ux, k, n = _aggregate(x, correct)
    theta, nll, ok = _mle(ux, k, n)
    alpha, beta, lapse = _unpack(theta)
    logx = np.log(np.maximum(ux, 1e-300))
    z = stats.norm.ppf(0.5 + level / 2)
    hess = _hessian(lambda t: _nll_grad(t, logx, k, n)[1], theta)
    try:
        cov = np.linalg.inv(hess)
        se = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
    except np.linalg.LinAlgError:
        se = np.full(3, np.nan)
    if ci == "wald":
        lo_t, hi_t = theta - z * np.nan_to_num(se, nan=np.inf), theta + z * np.nan_to_num(se, nan=np.inf)
        lo, hi = _unpack_vec(lo_t), _unpack_vec(hi_t)
    elif ci == "bootstrap":
        rng = np.random.default_rng(seed)
        p = predict(ux, alpha, beta, lapse)
        draws = np.array(
            [
                _unpack(_mle(ux, rng.binomial(n.astype(int), p).astype(float), n, theta)[0])
                for _ in range(n_boot)
            ]
        )
        lo = np.quantile(draws, (1 - level) / 2, axis=0)
        hi = np.quantile(draws, (1 + level) / 2, axis=0)
    else:
        raise ValueError(f"ci {ci!r} is not one of 'wald', 'bootstrap'")
    cis = {p: (float(lo[i]), float(hi[i])) for i, p in enumerate(PARAMS)}
    return PsychometricFit(alpha, beta, lapse, cis, level, int(n.sum()), -nll, ok, ci, se)


def _unpack_vec(theta: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.array([np.exp(theta[0]), np.exp(theta[1]), LAPSE_MAX / (1.0 + np.exp(-theta[2]))])


TABLE_COLUMNS = ["group", "parameter", "estimate", "lo", "hi", "n_trials", "loglik", "converged"]


def empty_table() -> pd.DataFrame:
    """The psychometric table with its columns and no rows (no distance to fit).

    Examples
    --------
    >>> list(empty_table().columns)[:3]
    ['group', 'parameter', 'estimate']
    """
    return pd.DataFrame(columns=TABLE_COLUMNS)


def _psignifit_group(
    x: np.ndarray, correct: np.ndarray, level: float
) -> tuple[PsychometricFit, pd.DataFrame]:
    from analysis.psignifit_backend import fit_psignifit

    ps = fit_psignifit(x, correct, level)
    ci = {"alpha": (np.nan, np.nan), "beta": ps.ci["beta"], "lapse": ps.ci["lapse"]}
    ll = float(
        np.sum(
            np.where(
                correct > 0,
                np.log(predict(x, ps.alpha, ps.beta, ps.lapse)),
                np.log1p(-predict(x, ps.alpha, ps.beta, ps.lapse)),
            )
        )
    )
    fit = PsychometricFit(ps.alpha, ps.beta, ps.lapse, ci, level, ps.n_trials, ll, True, "psignifit")
    tab = fit.table()
    extra = pd.DataFrame(
        [
            {"parameter": "eta", "estimate": ps.eta, "lo": ps.ci["eta"][0], "hi": ps.ci["eta"][1]},
            {
                "parameter": "threshold",
                "estimate": ps.threshold,
                "lo": ps.ci["threshold"][0],
                "hi": ps.ci["threshold"][1],
            },
        ]
    )
    return fit, pd.concat([tab, extra], ignore_index=True)


def fit_by_group(
    trials: pd.DataFrame,
    x: str = "distance",
    by: str = "group",
    level: float = 0.95,
    min_trials: int = 20,
    backend: str = "ml",
) -> tuple[pd.DataFrame, dict[str, PsychometricFit]]:
    """Fit one psychometric function per group.

    ``backend="psignifit"`` fits with psignifit 4 (optional extra; beta-binomial, guess rate 1/3;
    :mod:`analysis.psignifit_backend`): the table then gives psignifit's MAP estimates, its intervals
    for beta and lapse (none for alpha, whose posterior psignifit gives as the threshold), and rows for
    ``eta`` (overdispersion) and ``threshold``.

    Parameters
    ----------
    trials : pandas.DataFrame
        Analysed trials with ``correct``, ``x`` and ``by`` columns.
    x, by : str
        Distance column and grouping column.
    level : float
        Confidence level.
    min_trials : int
        Groups with fewer trials are skipped.

    Returns
    -------
    table : pandas.DataFrame
        ``group, parameter, estimate, lo, hi, n_trials, loglik, converged``.
    fits : dict
        ``{group: PsychometricFit}``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> d = rng.uniform(0, 0.5, 600)
    >>> c = (rng.random(600) < predict(d, 0.1, 2.0, 0.05)).astype(int)
    >>> t = pd.DataFrame({"group": "g", "distance": d, "correct": c})
    >>> table, fits = fit_by_group(t)
    >>> table["parameter"].tolist()
    ['alpha', 'beta', 'lapse']
    """
    rows, fits = [], {}
    data = trials.dropna(subset=[x])
    for g, sub in data.groupby(by, sort=True):
        if len(sub) < min_trials or sub[x].nunique() < 3:
            continue
        check_distances(sub[x].to_numpy(float), f"{by} {g!r}: {x}")
        if backend == "psignifit":
            fit, tab = _psignifit_group(sub[x].to_numpy(float), sub["correct"].to_numpy(float), level)
        elif backend == "ml":
            fit = fit_psychometric(sub[x].to_numpy(), sub["correct"].to_numpy(), level=level)
            tab = fit.table()
        else:
            raise ValueError(f"backend {backend!r} is not one of 'ml', 'psignifit'")
        fits[str(g)] = fit
        tab.insert(0, by, g)
        tab["n_trials"], tab["loglik"], tab["converged"] = fit.n_trials, fit.loglik, fit.converged
        rows.append(tab)
    table = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(
            columns=[by, "parameter", "estimate", "lo", "hi", "n_trials", "loglik", "converged"]
        )
    )
    return table, fits
