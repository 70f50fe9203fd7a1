"""The binomial model of correctness: links (logit; the oddity guess-rate link) and the plain GLM.

``mu = guess + (1 - guess) * logistic(eta)``; ``guess = 0`` is the logit, ``guess = 1/m`` psyphy's
``mafc.logit(m)``. :func:`family` gives the log-likelihood and its derivatives in ``eta`` that the
Laplace GLMM (:mod:`analysis.glmm`) and :func:`fit_glm` both iterate on.

Examples
--------
>>> import numpy as np
>>> round(loglik(np.zeros(2), np.array([1.0, 0.0]), np.ones(2), LOGIT), 6)
-1.386294
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special


@dataclass(frozen=True)
class Link:
    """Inverse link ``mu = guess + (1 - guess) * logistic(eta)`` (``guess = 0``: the logit).

    Examples
    --------
    >>> round(float(oddity_link(3).mu(np.array(0.0))), 6)
    0.666667
    """

    name: str = "logit"
    guess: float = 0.0

    def mu(self, eta: np.ndarray) -> np.ndarray:
        """Probability of a correct response."""
        return self.guess + (1.0 - self.guess) * special.expit(eta)

    def eta(self, mu: np.ndarray) -> np.ndarray:
        """Linear predictor of a probability (``-inf`` at or below the guess rate)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return special.logit((np.asarray(mu, float) - self.guess) / (1.0 - self.guess))


LOGIT = Link()


def oddity_link(m: int = 3) -> Link:
    """psyphy's ``mafc.logit(m)``: guess rate ``1/m`` (3-item oddity: ``m = 3``).

    Examples
    --------
    >>> oddity_link().name
    'mafc.logit(3)'
    """
    return Link(f"mafc.logit({m})", 1.0 / m)


@dataclass
class Family:
    """Log-likelihood and its derivatives in ``eta`` at one linear predictor (per row)."""

    loglik: float
    score: np.ndarray  # d loglik / d eta
    w: np.ndarray  # Fisher (IRLS) weight
    wo: np.ndarray  # observed information -d score / d eta
    dw: np.ndarray  # d w / d eta


def loglik(eta: np.ndarray, k: np.ndarray, m: np.ndarray, link: Link) -> float:
    """Log-likelihood of ``k`` correct out of ``m`` trials per row (Bernoulli sum, no binomial constant)."""
    le = special.log_expit(eta)
    if link.guess == 0:
        return float(m @ le - (m - k) @ eta)  # log(1 - expit(eta)) = log_expit(eta) - eta
    g = link.guess
    log_mu = np.logaddexp(np.log(g), np.log1p(-g) + le)
    return float(k @ log_mu + (m - k) @ (le - eta + np.log1p(-g)))


def family(eta: np.ndarray, k: np.ndarray, m: np.ndarray, link: Link) -> Family:
    """Score, Fisher and observed weights of ``k`` correct out of ``m`` per row at ``eta``."""
    g = link.guess
    le = special.log_expit(eta)
    s = np.exp(le)
    mu = g + (1.0 - g) * s
    m1 = (1.0 - g) * s * (1.0 - s)
    res = k - m * mu
    if g == 0:
        w = m * m1
        return Family(float(m @ le - (m - k) @ eta), res, w, w, w * (1.0 - 2.0 * s))
    r = s / mu  # m1 / var(mu), stable at the extremes
    w = m * m1 * r
    wo = w - res * (r * (1.0 - 2.0 * s) - r * r * (1.0 - 2.0 * mu))
    dw = w * (2.0 * (1.0 - 2.0 * s) - r * (1.0 - 2.0 * mu))
    return Family(loglik(eta, k, m, link), res * r, w, wo, dw)


def fit_glm(y: np.ndarray, x: np.ndarray, link: Link = LOGIT, offset: np.ndarray | None = None) -> tuple:
    """Maximum-likelihood binomial GLM (Fisher scoring): ``(beta, vcov, deviance)``.

    ``vcov`` is the inverse Fisher information, as R's ``summary(glm(...))`` reports it.

    Examples
    --------
    >>> x = np.column_stack([np.ones(6), [0, 0, 0, 1, 1, 1]])
    >>> beta, vcov, dev = fit_glm(np.array([1, 0, 1, 1, 1, 0.0]), x)
    >>> [round(float(b), 6) + 0.0 for b in beta]
    [0.693147, 0.0]
    """
    y = np.asarray(y, float)
    off = np.zeros(len(y)) if offset is None else offset
    one = np.ones(len(y))
    pc = np.clip((y.mean() - link.guess) / (1 - link.guess), 0.05, 0.95)
    beta = np.linalg.lstsq(x, np.full(len(y), special.logit(pc)), rcond=None)[0]
    dev = np.inf
    for _ in range(200):
        fam = family(x @ beta + off, y, one, link)
        info = x.T @ (fam.w[:, None] * x)
        step = np.linalg.solve(info, x.T @ fam.score)
        t = 1.0
        while True:
            new = -2.0 * loglik(x @ (beta + t * step) + off, y, one, link)
            if new <= dev + 1e-10 * abs(new) or t < 1e-8:
                break
            t *= 0.5
        beta, old, dev = beta + t * step, dev, new
        if abs(old - dev) < 1e-13 * (abs(dev) + 1.0) and np.max(np.abs(t * step)) < 1e-10:
            break
    fam = family(x @ beta + off, y, one, link)
    return beta, np.linalg.inv(x.T @ (fam.w[:, None] * x)), -2.0 * fam.loglik
