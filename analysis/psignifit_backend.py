"""psignifit 4 as an optional psychometric backend (``pip install mrd-suite[psignifit]``).

psignifit (Schuett, Harmeling, Macke & Wichmann 2016) fits a beta-binomial psychometric function
(overdispersion ``eta``) by Bayesian inference on a grid. Here: 3-AFC (guess rate fixed at 1/3, as
the oddity task), its ``weibull`` sigmoid on log distance (psignifit fits in linear space; a Weibull in
``x`` is a Gumbel in ``log x``), MAP estimates. Its threshold ``t`` (log distance where the sigmoid is
half-way) and width ``w`` (log-distance span from 5 % to 95 % of the sigmoid) map onto the built-in
Weibull of :mod:`analysis.psychometric` as

``beta = (ln(-ln 0.05) - ln(-ln 0.95)) / w`` and ``log alpha = t - ln(ln 2) / beta``;

``lapse`` is psignifit's ``lambda``. Intervals are psignifit's (posterior percentiles): ``beta`` from
the width interval (the map is monotone), ``lapse`` and ``eta`` directly, and the threshold as a
distance, ``exp(t)``.

Examples
--------
>>> beta_from_width(4.0673628)  # doctest: +ELLIPSIS
1.0000...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.psychometric_data import _aggregate, check_distances
from stimuli.errors import MRDError

_WIDTH_ALPHA = 0.05
_SPAN = float(np.log(-np.log(_WIDTH_ALPHA)) - np.log(-np.log(1 - _WIDTH_ALPHA)))


def beta_from_width(width: float) -> float:
    """Weibull slope ``beta`` of a psignifit width (log-distance span of 5 % to 95 %)."""
    return _SPAN / width


@dataclass
class PsignifitFit:
    """A psignifit fit in the built-in parametrisation.

    Attributes
    ----------
    alpha, beta, lapse : float
        MAP estimates mapped onto ``pc(x) = 1/3 + (2/3 - lapse)(1 - exp(-(x / alpha)^beta))``.
    eta : float
        Beta-binomial overdispersion (0: binomial).
    threshold : float
        Distance at which the sigmoid is half-way (``alpha (ln 2)^(1/beta)``).
    ci : dict
        ``{"threshold", "beta", "lapse", "eta": (lo, hi)}`` at ``level``.
    """

    alpha: float
    beta: float
    lapse: float
    eta: float
    threshold: float
    ci: dict[str, tuple[float, float]]
    level: float
    n_trials: int


def fit_psignifit(x: np.ndarray, correct: np.ndarray, level: float = 0.95) -> PsignifitFit:
    """Fit the 3-AFC beta-binomial Weibull with psignifit.

    Parameters
    ----------
    x : numpy.ndarray
        Model distance per trial (> 0).
    correct : numpy.ndarray
        0/1 per trial.
    level : float
        0.95, 0.9 or 0.68 (psignifit's interval levels).

    Returns
    -------
    PsignifitFit

    Raises
    ------
    MRDError
        Without psignifit installed, or for distances that are not positive and finite.
    """
    try:
        import psignifit
    except ImportError as exc:
        raise MRDError(
            "the psignifit backend needs the optional extra: pip install 'mrd-suite[psignifit]' (psignifit 4)"
        ) from exc
    x = np.asarray(x, float)
    check_distances(x)
    if (x <= 0).any():
        raise MRDError("psignifit fits in log distance: every distance must be > 0")
    ux, k, n = _aggregate(x, np.asarray(correct, float))
    data = np.column_stack([np.log(ux), k, n])
    res = psignifit.psignifit(
        data, sigmoid="weibull", experiment_type="3AFC", verbose=False, confP=(0.95, 0.9, 0.68)
    )
    est, cis = res.parameter_estimate_MAP, res.confidence_intervals
    key = f"{level:g}"
    if key not in cis["threshold"]:
        raise MRDError(f"psignifit gives intervals at 0.95, 0.9 and 0.68, not {level}")
    beta = beta_from_width(est["width"])
    log_alpha = est["threshold"] - np.log(np.log(2.0)) / beta
    w_lo, w_hi = cis["width"][key]
    t_lo, t_hi = cis["threshold"][key]
    ci = {
        "threshold": (float(np.exp(t_lo)), float(np.exp(t_hi))),
        "beta": (beta_from_width(w_hi), beta_from_width(w_lo)),
        "lapse": tuple(float(v) for v in cis["lambda"][key]),
        "eta": tuple(float(v) for v in cis["eta"][key]),
    }
    return PsignifitFit(
        float(np.exp(log_alpha)),
        float(beta),
        float(est["lambda"]),
        float(est["eta"]),
        float(np.exp(est["threshold"])),
        ci,
        level,
        int(n.sum()),
    )
