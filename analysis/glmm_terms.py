"""The random-effects structure of the Laplace GLMM and its result: terms, lme4's ``theta``
parametrisation, and :class:`LaplaceFit` (estimates, SEs, random-effect SDs and correlations).

Each term ``(z | g)`` has a lower-triangular ``T`` per level; ``theta`` holds its lower triangle
column by column (:func:`tri_index`, :func:`tri`), diagonal elements >= 0, as lme4 does.

Examples
--------
>>> import numpy as np
>>> tri(np.array([1.0, 0.5, 2.0]), 2).tolist()
[[1.0, 0.0], [0.5, 2.0]]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis.binomial import Link


@dataclass
class RandomTerm:
    """One random-effects term ``(z | group)``.

    Attributes
    ----------
    group : str
        Name of the grouping factor.
    codes : numpy.ndarray
        Level index per trial (0..m-1).
    levels : list of str
        Level names.
    z : numpy.ndarray
        ``(n, q)`` model matrix of the term (column 0 is usually the intercept).
    names : list of str
        Column names of ``z``.
    """

    group: str
    codes: np.ndarray
    levels: list[str]
    z: np.ndarray
    names: list[str]


@dataclass
class LaplaceFit:
    """Result of :func:`fit_laplace`.

    Attributes
    ----------
    beta : numpy.ndarray
        Fixed effects.
    theta : numpy.ndarray
        Relative covariance factors (lme4's ``theta``).
    vcov : numpy.ndarray
        Covariance of ``beta`` (glmer's default, from the Hessian over ``theta`` and ``beta``).
    vcov_conditional : numpy.ndarray
        Covariance of ``beta`` with ``theta`` treated as known.
    cov_full : numpy.ndarray
        ``2 H^-1`` over ``(theta, beta)`` (NaN where the Hessian is not positive definite).
    deviance : float
        Laplace approximation of ``-2 log L``.
    u : numpy.ndarray
        Spherical conditional modes.
    converged : bool
        Whether the optimiser reported success and the Hessian is positive definite.
    n_evaluations : int
        Deviance evaluations.
    notes : list of str
        Problems met (boundary fit, non-positive-definite Hessian).
    n_cells : int
        Rows after collapsing trials with identical covariates into binomial counts.
    """

    beta: np.ndarray
    theta: np.ndarray
    vcov: np.ndarray
    vcov_conditional: np.ndarray
    cov_full: np.ndarray
    deviance: float
    u: np.ndarray
    terms: list[RandomTerm]
    link: Link
    converged: bool
    n_evaluations: int
    notes: list[str] = field(default_factory=list)
    n_cells: int = 0

    @property
    def se(self) -> np.ndarray:
        """Standard errors of ``beta``."""
        return np.sqrt(np.diag(self.vcov))

    def covariances(self) -> list[np.ndarray]:
        """Random-effect covariance matrix ``T T'`` of each term."""
        out, i = [], 0
        for t in self.terms:
            q = t.z.shape[1]
            tm = tri(self.theta[i : i + ntheta(q)], q)
            out.append(tm @ tm.T)
            i += ntheta(q)
        return out

    def sd(self) -> list[tuple[str, str, float]]:
        """``(group, column, SD)`` of every random coefficient."""
        return [
            (t.group, name, float(np.sqrt(c[j, j])))
            for t, c in zip(self.terms, self.covariances(), strict=True)
            for j, name in enumerate(t.names)
        ]

    def cor(self) -> list[tuple[str, str, str, float]]:
        """``(group, column a, column b, correlation)`` within each term."""
        rows = []
        for t, c in zip(self.terms, self.covariances(), strict=True):
            d = np.sqrt(np.diag(c))
            for a in range(len(t.names)):
                for b in range(a + 1, len(t.names)):
                    r = c[a, b] / (d[a] * d[b]) if d[a] > 0 and d[b] > 0 else np.nan
                    rows.append((t.group, t.names[a], t.names[b], float(r)))
        return rows

    def sd_se(self) -> np.ndarray:
        """Delta-method standard errors of the SDs in :meth:`sd` (from ``cov_full``)."""
        out, i = [], 0
        ct = self.cov_full[: len(self.theta), : len(self.theta)]
        for t in self.terms:
            q = t.z.shape[1]
            th = self.theta[i : i + ntheta(q)]
            tm = tri(th, q)
            for j in range(q):
                sd = np.sqrt(np.sum(tm[j] ** 2))
                grad = np.zeros(len(self.theta))
                for k, (r, c) in enumerate(tri_index(q)):
                    if r == j:
                        grad[i + k] = tm[r, c] / sd if sd > 0 else 0.0
                out.append(float(np.sqrt(max(grad @ ct @ grad, 0.0))) if np.isfinite(ct).all() else np.nan)
            i += ntheta(q)
        return np.array(out)


def ntheta(q: int) -> int:
    return q * (q + 1) // 2


def tri_index(q: int) -> list[tuple[int, int]]:
    return [(r, c) for c in range(q) for r in range(c, q)]


def tri(theta: np.ndarray, q: int) -> np.ndarray:
    t = np.zeros((q, q))
    for k, (r, c) in enumerate(tri_index(q)):
        t[r, c] = theta[k]
    return t
