"""The model observer: predicted oddity accuracy on the very same trials, from stored similarities.

For each analysed trial the activation distance of the pair shown is ``d = 1 - cosine`` (the
layer-averaged cosine of the trial's view, the ``similarity`` column of the trial table). The model
observer is a differencing oddity observer with internal noise ``sigma``: ``d' = d / sigma`` and
its probability of a correct answer is :func:`analysis.oddity.pc_from_dprime`. ``sigma`` is given,
or fitted to the human responses by maximum likelihood (one parameter, bounded search on
``log sigma``) with a likelihood-ratio (profile) interval. Per item, model and human accuracy then
share one axis.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> d = rng.uniform(0, 0.3, 3000)
>>> from analysis.oddity import pc_from_dprime
>>> t = pd.DataFrame({"distance": d, "correct": (rng.random(3000) < pc_from_dprime(d / 0.05)) * 1})
>>> fit = fit_sigma(t)
>>> bool(fit.lo < 0.05 < fit.hi)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.oddity import binomial_ci, dprime_from_pc, pc_from_dprime


@dataclass
class SigmaFit:
    """Noise of the model observer.

    Attributes
    ----------
    sigma : float
        Estimate (or the given value).
    lo, hi : float
        Profile-likelihood interval (NaN when sigma was given).
    loglik : float
        Log-likelihood of the human responses under the observer.
    fitted : bool
        Whether ``sigma`` was fitted.
    """

    sigma: float
    lo: float
    hi: float
    loglik: float
    fitted: bool
    n_trials: int

    def table(self) -> pd.DataFrame:
        """One-row table of the fit."""
        return pd.DataFrame([self.__dict__])


def _loglik(log_sigma: float, d: np.ndarray, k: np.ndarray, n: np.ndarray) -> float:
    p = np.clip(pc_from_dprime(d / np.exp(log_sigma)), 1e-12, 1 - 1e-12)
    return float(np.sum(k * np.log(p) + (n - k) * np.log1p(-p)))


def fit_sigma(
    trials: pd.DataFrame,
    sigma: float | None = None,
    level: float = 0.95,
    bounds: tuple[float, float] = (1e-4, 100.0),
) -> SigmaFit:
    """Fit (or evaluate a given) observer noise ``sigma`` on analysed trials.

    Parameters
    ----------
    trials : pandas.DataFrame
        Needs ``distance`` (``1 - cosine``) and ``correct``.
    sigma : float, optional
        Use this value instead of fitting.
    level : float
        Level of the profile-likelihood interval.
    bounds : tuple of float
        Search range of ``sigma``.

    Returns
    -------
    SigmaFit
    """
    t = trials.dropna(subset=["distance"])
    if len(t) == 0:
        raise ValueError("fit_sigma needs trials with a distance")
    agg = t.groupby("distance")["correct"].agg(["sum", "size"])
    d = np.maximum(agg.index.to_numpy(float), 0.0)
    k, n = agg["sum"].to_numpy(float), agg["size"].to_numpy(float)
    if sigma is not None:
        return SigmaFit(float(sigma), np.nan, np.nan, _loglik(np.log(sigma), d, k, n), False, int(n.sum()))
    lb, ub = np.log(bounds[0]), np.log(bounds[1])
    grid = np.linspace(lb, ub, 60)
    ll = np.array([_loglik(g, d, k, n) for g in grid])
    i = int(np.argmax(ll))
    res = optimize.minimize_scalar(
        lambda s: -_loglik(s, d, k, n),
        bounds=(grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]),
        method="bounded",
        options={"xatol": 1e-8},
    )
    best, llmax = float(res.x), -float(res.fun)
    cut = llmax - stats.chi2.ppf(level, 1) / 2.0

    def crossing(a: float, b: float) -> float:
        fa, fb = _loglik(a, d, k, n) - cut, _loglik(b, d, k, n) - cut
        if fa * fb > 0:
            return np.nan
        return float(np.exp(optimize.brentq(lambda s: _loglik(s, d, k, n) - cut, a, b, xtol=1e-10)))

    return SigmaFit(float(np.exp(best)), crossing(lb, best), crossing(best, ub), llmax, True, int(n.sum()))


def predict_trials(trials: pd.DataFrame, sigma: float) -> pd.DataFrame:
    """Add the model observer's ``model_dprime`` and ``model_pc`` to each trial.

    Examples
    --------
    >>> import pandas as pd
    >>> predict_trials(pd.DataFrame({"distance": [0.0, 0.05]}), 0.05)["model_dprime"].tolist()
    [0.0, 1.0]
    """
    out = trials.copy()
    out["model_dprime"] = np.maximum(out["distance"].to_numpy(float), 0.0) / sigma
    out["model_pc"] = pc_from_dprime(out["model_dprime"].to_numpy())
    return out


ITEM_COLUMNS = [
    "group",
    "condition",
    "item",
    "n",
    "k",
    "distance",
    "model_pc",
    "human_pc",
    "human_pc_lo",
    "human_pc_hi",
    "human_dprime",
    "model_dprime",
]


def empty_items() -> pd.DataFrame:
    """The per-item comparison table with its columns and no rows (no model similarity).

    Examples
    --------
    >>> "model_pc" in empty_items().columns
    True
    """
    return pd.DataFrame(columns=ITEM_COLUMNS)


def compare_items(trials: pd.DataFrame, sigma: float, level: float = 0.95) -> pd.DataFrame:
    """Human and model accuracy per item on the same analysed trials.

    Parameters
    ----------
    trials : pandas.DataFrame
        Analysed trials with ``item``, ``correct``, ``distance`` (and ``group``, ``condition``).
    sigma : float
        Observer noise.
    level : float
        Level of the human Wilson interval.

    Returns
    -------
    pandas.DataFrame
        Per item: ``n``, ``human_pc`` with ``human_pc_lo/hi``, ``human_dprime``, ``model_pc``
        (mean predicted pc over the item's trials), ``model_dprime`` (d' of ``model_pc``) and
        ``distance`` (mean).
    """
    pred = predict_trials(trials.dropna(subset=["distance"]), sigma)
    by = [c for c in ("group", "condition", "item") if c in pred]
    out = (
        pred.groupby(by, sort=True, observed=True)
        .agg(
            n=("correct", "size"),
            k=("correct", "sum"),
            distance=("distance", "mean"),
            model_pc=("model_pc", "mean"),
        )
        .reset_index()
    )
    out["human_pc"] = out["k"] / out["n"]
    out["human_pc_lo"], out["human_pc_hi"] = binomial_ci(
        out["k"].to_numpy(), out["n"].to_numpy(), level=level
    )
    out["human_dprime"] = dprime_from_pc(out["human_pc"].to_numpy())
    out["model_dprime"] = dprime_from_pc(out["model_pc"].to_numpy())
    return out
