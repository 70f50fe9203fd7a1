"""Psychometric functions of proportion correct against model distance, fitted by maximum likelihood.

``pc(x) = 1/3 + (2/3 - lapse) * F((x / alpha) ** beta)`` with the guess rate fixed at 1/3 (oddity
chance) and the lapse rate fitted. Two shapes ``F``:

* ``"weibull"``: ``F(u) = 1 - exp(-u)``, the usual Weibull in ``x`` (``alpha`` is the distance at
  which 63 % of the way from chance to the ceiling is reached, ``beta`` the slope).
* ``"oddity"``: ``F(u) = (P_odd(u) - 1/3) / (2/3)`` where ``P_odd`` is the oddity model of
  :mod:`analysis.oddity` and ``u = d' = (x / alpha) ** beta`` a power-law transducer; ``alpha``
  is the distance giving ``d' = 1``.

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

from analysis.oddity import GUESS_RATE, pc_derivative, pc_from_dprime

LAPSE_MAX = 0.5
"""Upper bound of the lapse rate."""

Kind = Literal["weibull", "oddity"]
PARAMS = ("alpha", "beta", "lapse")


def _shape(kind: Kind) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    if kind == "weibull":
        return (lambda u: -np.expm1(-u)), (lambda u: np.exp(-u))
    if kind == "oddity":
        scale = 1.0 / (1.0 - GUESS_RATE)
        return (lambda u: (pc_from_dprime(u) - GUESS_RATE) * scale), (lambda u: pc_derivative(u) * scale)
    raise ValueError(f"kind {kind!r} is not one of 'weibull', 'oddity'")


def predict(x: np.ndarray, alpha: float, beta: float, lapse: float, kind: Kind = "weibull") -> np.ndarray:
    """Proportion correct at distance ``x``.

    Examples
    --------
    >>> predict(np.array([0.0, 1e9]), 0.1, 2.0, 0.05).round(3).tolist()
    [0.333, 0.95]
    """
    f, _ = _shape(kind)
    u = (np.maximum(np.asarray(x, dtype=float), 0.0) / alpha) ** beta
    return GUESS_RATE + (1.0 - GUESS_RATE - lapse) * f(u)


def _unpack(theta: np.ndarray) -> tuple[float, float, float]:
    return float(np.exp(theta[0])), float(np.exp(theta[1])), float(LAPSE_MAX / (1.0 + np.exp(-theta[2])))


def _nll_grad(theta: np.ndarray, logx: np.ndarray, k: np.ndarray, n: np.ndarray, kind: Kind
              ) -> tuple[float, np.ndarray]:
    f, fprime = _shape(kind)
    a, b = theta[0], theta[1]
    alpha, beta, lapse = _unpack(theta)
    logu = np.clip(beta * (logx - a), -700.0, 700.0)
    u = np.exp(logu)
    fu, fpu = f(u), fprime(u)
    p = np.clip(GUESS_RATE + (1.0 - GUESS_RATE - lapse) * fu, 1e-12, 1 - 1e-12)
    nll = -float(np.sum(k * np.log(p) + (n - k) * np.log1p(-p)))
    dnll_dp = -(k / p - (n - k) / (1.0 - p))
    amp = 1.0 - GUESS_RATE - lapse
    du_da = -beta * u
    du_db = np.where(u > 0, u * logu, 0.0)
    grad = np.array([
        np.sum(dnll_dp * amp * fpu * du_da),
        np.sum(dnll_dp * amp * fpu * du_db),
        np.sum(dnll_dp * -fu) * lapse * (1.0 - lapse / LAPSE_MAX),
    ])
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

    kind: Kind
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
        return predict(x, self.alpha, self.beta, self.lapse, self.kind)

    def table(self) -> pd.DataFrame:
        """One row per parameter: ``parameter, estimate, lo, hi``."""
        return pd.DataFrame([{"parameter": p, "estimate": getattr(self, p), "lo": self.ci[p][0],
                              "hi": self.ci[p][1]} for p in PARAMS])


def _aggregate(x: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ux, inv = np.unique(np.asarray(x, dtype=float), return_inverse=True)
    k = np.bincount(inv, weights=np.asarray(correct, dtype=float), minlength=len(ux))
    n = np.bincount(inv, minlength=len(ux)).astype(float)
    return ux, k, n


def _mle(ux: np.ndarray, k: np.ndarray, n: np.ndarray, kind: Kind) -> tuple[np.ndarray, float, bool]:
    logx = np.log(np.maximum(ux, 1e-300))
    pos = ux[ux > 0]
    if pos.size == 0:
        raise ValueError("psychometric fit needs positive distances")
    best = None
    for q in (0.25, 0.5, 0.75):
        for b0 in (0.0, np.log(2.0)):
            start = np.array([np.log(np.quantile(pos, q)), b0, np.log(0.05 / (LAPSE_MAX - 0.05))])
            res = optimize.minimize(_nll_grad, start, args=(logx, k, n, kind), jac=True, method="L-BFGS-B",
                                    bounds=[(np.log(pos.min()) - 5, np.log(pos.max()) + 5), (-3, 3), (-15, 15)])
            if best is None or res.fun < best.fun:
                best = res
    assert best is not None
    return best.x, float(best.fun), bool(best.success)


def fit_psychometric(
    x: np.ndarray,
    correct: np.ndarray,
    kind: Kind = "weibull",
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
    kind : {"weibull", "oddity"}
        Shape of the function (see the module notes).
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
    correct = np.asarray(correct, dtype=float)
    ux, k, n = _aggregate(x, correct)
    theta, nll, ok = _mle(ux, k, n, kind)
    alpha, beta, lapse = _unpack(theta)
    logx = np.log(np.maximum(ux, 1e-300))
    z = stats.norm.ppf(0.5 + level / 2)
    hess = _hessian(lambda t: _nll_grad(t, logx, k, n, kind)[1], theta)
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
        p = predict(ux, alpha, beta, lapse, kind)
        draws = np.array([_unpack(_mle(ux, rng.binomial(n.astype(int), p).astype(float), n, kind)[0])
                          for _ in range(n_boot)])
        lo = np.quantile(draws, (1 - level) / 2, axis=0)
        hi = np.quantile(draws, (1 + level) / 2, axis=0)
    else:
        raise ValueError(f"ci {ci!r} is not one of 'wald', 'bootstrap'")
    cis = {p: (float(lo[i]), float(hi[i])) for i, p in enumerate(PARAMS)}
    return PsychometricFit(kind, alpha, beta, lapse, cis, level, int(n.sum()), -nll, ok, ci, se)


def _unpack_vec(theta: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.array([np.exp(theta[0]), np.exp(theta[1]), LAPSE_MAX / (1.0 + np.exp(-theta[2]))])


def fit_by_group(
    trials: pd.DataFrame,
    x: str = "distance",
    by: str = "group",
    kind: Kind = "weibull",
    level: float = 0.95,
    min_trials: int = 20,
) -> tuple[pd.DataFrame, dict[str, PsychometricFit]]:
    """Fit one psychometric function per group.

    Parameters
    ----------
    trials : pandas.DataFrame
        Analysed trials with ``correct``, ``x`` and ``by`` columns.
    x, by : str
        Distance column and grouping column.
    kind : {"weibull", "oddity"}
        Shape.
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
    >>> t = pd.DataFrame({"group": "g", "distance": d, "correct": (rng.random(600) < predict(d, .1, 2, .05)) * 1})
    >>> table, fits = fit_by_group(t)
    >>> table["parameter"].tolist()
    ['alpha', 'beta', 'lapse']
    """
    rows, fits = [], {}
    data = trials.dropna(subset=[x])
    for g, sub in data.groupby(by, sort=True):
        if len(sub) < min_trials or sub[x].nunique() < 3:
            continue
        fit = fit_psychometric(sub[x].to_numpy(), sub["correct"].to_numpy(), kind=kind, level=level)
        fits[str(g)] = fit
        tab = fit.table()
        tab.insert(0, by, g)
        tab["n_trials"], tab["loglik"], tab["converged"], tab["kind"] = fit.n_trials, fit.loglik, fit.converged, kind
        rows.append(tab)
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=[by, "parameter", "estimate", "lo", "hi", "n_trials", "loglik", "converged", "kind"])
    return table, fits
