"""Laplace fit of the binomial GLMM, as lme4's ``glmer(..., nAGQ = 1)`` computes it.

Model: ``y_i ~ Bernoulli(mu_i)``, ``mu = link^-1(eta)``, ``eta = X beta + Z b``, ``b = Lambda(theta) u``,
``u ~ N(0, I)``. Each random-effects term ``(z | g)`` contributes, per level of ``g``, a block
``T T'`` of the random-effect covariance, with ``T`` lower triangular; ``theta`` holds the lower
triangles of every ``T`` column by column (lme4's parametrisation, diagonal elements >= 0).

For given ``(theta, beta)`` penalised iteratively reweighted least squares (Newton steps with
step halving) finds the conditional mode ``u_hat`` of ``-2 log p(y | u) + |u|^2``. The Laplace
approximation of the deviance (``-2 log`` marginal likelihood) is

``L(theta, beta) = -2 log p(y | u_hat) + |u_hat|^2 + log det(Lambda' Z' W Z Lambda + I)``

with ``W`` the IRLS (Fisher) weights at the mode, as in lme4. ``L`` is minimised jointly over
``theta`` and ``beta`` (L-BFGS-B with the exact gradient, derived by implicit differentiation of
the mode). Standard errors are glmer's default: the fixed-effects block of ``2 H^-1``, ``H`` the
Hessian of ``L`` over ``(theta, beta)`` at the optimum (here central differences of the exact
gradient); the conditional ones (``theta`` treated as known) are given too.

``Z Lambda`` is held as a :class:`scipy.sparse.csr_matrix` with exactly one block of entries per
term in each row, so memory grows with trials x (coefficients per row), never trials x levels;
the ``q x q`` system (``q`` = number of random-effect coefficients) is dense.

Links (:mod:`analysis.binomial`): the logit, and the oddity guess-rate link
``mu = g + (1 - g) logistic(eta)`` (psyphy's ``mafc.logit(m)`` with ``g = 1/m``).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> g = np.repeat(np.arange(20), 50)
>>> eta = 0.5 + rng.normal(0, 0.8, 20)[g]
>>> y = (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(float)
>>> term = RandomTerm("subject", g, [str(i) for i in range(20)], np.ones((g.size, 1)), ["(Intercept)"])
>>> fit = fit_laplace(y, np.ones((g.size, 1)), [term])
>>> fit.converged, 0.3 < fit.sd()[0][2] < 1.3
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import linalg, optimize, sparse

from analysis.binomial import LOGIT, Family, Link, family, fit_glm, loglik
from analysis.glmm_terms import LaplaceFit, RandomTerm, ntheta, tri, tri_index


def _aggregate(
    y: np.ndarray, x: np.ndarray, terms: Sequence[RandomTerm], offset: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, list[RandomTerm], np.ndarray, np.ndarray]:
    """Collapse trials with identical covariates into binomial counts (exact: same likelihood)."""
    off = np.zeros(len(y)) if offset is None else np.asarray(offset, float)
    parts = [x, off[:, None]] + [np.column_stack([t.codes, t.z]) for t in terms]
    both = np.ascontiguousarray(np.column_stack(parts))
    _, first, inv = np.unique(
        both.view(np.dtype((np.void, both.dtype.itemsize * both.shape[1]))).ravel(),
        return_index=True,
        return_inverse=True,
    )
    inv = inv.ravel()
    k = np.bincount(inv, weights=y, minlength=len(first))
    m = np.bincount(inv, minlength=len(first)).astype(float)
    new_terms = [RandomTerm(t.group, t.codes[first], t.levels, t.z[first], t.names) for t in terms]
    return x[first], off[first], new_terms, k, m


class _Problem:
    """Fixed structure of one GLMM: sparse pattern of ``Z Lambda``, theta bookkeeping, PIRLS."""

    def __init__(
        self, y: np.ndarray, x: np.ndarray, terms: Sequence[RandomTerm], link: Link, offset: np.ndarray | None
    ) -> None:
        self.link = link
        x, off, terms, self.k, self.m = _aggregate(y, x, terms, offset)
        self.x, self.terms, self.offset = x, terms, off
        self.n, self.p = x.shape
        cols, zs, self.theta_map, self.lower = [], [], [], []
        col_off, r_off = 0, 0
        for ti, t in enumerate(self.terms):
            q = t.z.shape[1]
            for j in range(q):
                cols.append(col_off + t.codes.astype(np.int64) * q + j)
            zs.append(t.z)
            for r, c in tri_index(q):
                self.theta_map.append((ti, r, c, r_off))
                self.lower.append(0.0 if r == c else -np.inf)
            col_off += len(t.levels) * q
            r_off += q
        self.q, self.r = col_off, r_off
        self.cols = np.stack(cols, axis=1)
        self.indptr = np.arange(0, self.n * self.r + 1, self.r)
        self.u = np.zeros(self.q)
        self.n_eval = 0

    def theta_start(self) -> np.ndarray:
        return np.array([1.0 if r == c else 0.0 for _, r, c, _ in self.theta_map])

    def vals(self, theta: np.ndarray) -> np.ndarray:
        out, i, r_off = np.empty((self.n, self.r)), 0, 0
        for t in self.terms:
            q = t.z.shape[1]
            out[:, r_off : r_off + q] = t.z @ tri(theta[i : i + ntheta(q)], q)
            i += ntheta(q)
            r_off += q
        return out

    def matrix(self, vals: np.ndarray) -> sparse.csr_matrix:
        return sparse.csr_matrix((vals.ravel(), self.cols.ravel(), self.indptr), shape=(self.n, self.q))

    def _h(self, a: sparse.csr_matrix, w: np.ndarray) -> np.ndarray:
        """``A' W A + I`` as a dense ``q x q`` array."""
        vals = a.data.reshape(self.n, self.r)
        if self.q <= 3000:  # accumulate the R x R products of every row straight into the dense array
            h = np.zeros(self.q * self.q)
            for j in range(self.r):
                wj = w * vals[:, j]
                for k in range(j, self.r):
                    idx = self.cols[:, j] * self.q + self.cols[:, k]
                    h += np.bincount(idx, weights=wj * vals[:, k], minlength=self.q * self.q)
            h = h.reshape(self.q, self.q)
            h = h + np.triu(h, 1).T  # pairs j < k land in the strict upper triangle
        else:
            aw = sparse.csr_matrix((a.data * np.repeat(w, self.r), a.indices, a.indptr), shape=a.shape)
            h = (a.T @ aw).toarray()
        h[np.diag_indices_from(h)] += 1.0
        return h

    def _newton_factor(self, a: sparse.csr_matrix, fam: Family) -> tuple:
        # Newton (observed information) converges quadratically; Fisher scoring (what the Laplace
        # determinant uses) only linearly for a non-canonical link. Same mode either way.
        if self.link.guess:
            try:
                return linalg.cho_factor(self._h(a, fam.wo))
            except linalg.LinAlgError:
                pass
        return linalg.cho_factor(self._h(a, fam.w))

    def pirls(self, a: sparse.csr_matrix, eta0: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        def pen(v: np.ndarray) -> tuple[float, np.ndarray]:
            e = eta0 + a @ v
            return -2.0 * loglik(e, self.k, self.m, self.link) + float(v @ v), e

        pval, eta = pen(u)
        for _ in range(200):
            fam = family(eta, self.k, self.m, self.link)
            grad = a.T @ fam.score - u
            d = linalg.cho_solve(self._newton_factor(a, fam), grad)
            dec = float(grad @ d)
            step = 1.0
            while True:
                pn, en = pen(u + step * d)
                if pn <= pval + 1e-10 * abs(pval) or step < 1e-8:
                    break
                step *= 0.5
            u, pval, eta = u + step * d, pn, en
            if dec < 1e-11:
                break
        return u, eta

    def evaluate(self, x: np.ndarray, gradient: bool = True) -> tuple[float, np.ndarray]:
        """Laplace deviance and its gradient at ``x = (theta, beta)``."""
        self.n_eval += 1
        nt = len(self.theta_map)
        theta, beta = x[:nt], x[nt:]
        vals = self.vals(theta)
        a = self.matrix(vals)
        eta0 = self.x @ beta + self.offset
        u, eta = self.pirls(a, eta0, self.u.copy())
        self.u = u
        fam = family(eta, self.k, self.m, self.link)
        cf = linalg.cho_factor(self._h(a, fam.w))
        ldet = 2.0 * float(np.sum(np.log(np.diag(cf[0]))))
        dev = -2.0 * fam.loglik + float(u @ u) + ldet
        if not gradient:
            return dev, np.empty(0)
        hinv = linalg.cho_solve(cf, np.eye(self.q))
        g = np.zeros((self.n, self.r))
        for j in range(self.r):
            for k in range(self.r):
                g[:, j] += vals[:, k] * hinv[self.cols[:, k], self.cols[:, j]]
        h = np.sum(vals * g, axis=1)
        v = h * fam.dw
        atv = a.T @ v
        if self.link.guess == 0:
            z = linalg.cho_solve(cf, atv)
        else:
            z = linalg.cho_solve(linalg.cho_factor(self._h(a, fam.wo)), atv)
        grad_beta = -2.0 * (self.x.T @ fam.score) + self.x.T @ (v - fam.wo * (a @ z))
        grad_theta = np.empty(nt)
        for k, (ti, r, c, r_off) in enumerate(self.theta_map):
            j = r_off + c
            col = self.cols[:, j]
            zr = self.terms[ti].z[:, r]
            du = zr * u[col]
            rhs = np.bincount(col, weights=zr * fam.score, minlength=self.q) - a.T @ (fam.wo * du)
            grad_theta[k] = (
                -2.0 * float(fam.score @ du)
                + 2.0 * float(np.sum(fam.w * zr * g[:, j]))
                + float(v @ du)
                + float(z @ rhs)
            )
        return dev, np.concatenate([grad_theta, grad_beta])

    def conditional_vcov(self, x: np.ndarray) -> np.ndarray:
        """``(X'WX - X'WA H^-1 A'WX)^-1`` at the mode: the covariance of beta for known theta."""
        nt = len(self.theta_map)
        a = self.matrix(self.vals(x[:nt]))
        eta = self.x @ x[nt:] + self.offset + a @ self.u
        fam = family(eta, self.k, self.m, self.link)
        cf = linalg.cho_factor(self._h(a, fam.w))
        awx = a.T @ (fam.w[:, None] * self.x)
        info = self.x.T @ (fam.w[:, None] * self.x) - awx.T @ linalg.cho_solve(cf, awx)
        return np.linalg.inv(info)


def fit_laplace(
    y: np.ndarray,
    x: np.ndarray,
    terms: Sequence[RandomTerm],
    link: Link = LOGIT,
    offset: np.ndarray | None = None,
    hessian_step: float = 1e-4,
) -> LaplaceFit:
    """Fit a binomial GLMM by the Laplace approximation (glmer's default, ``nAGQ = 1``).

    Parameters
    ----------
    y : numpy.ndarray
        0/1 responses.
    x : numpy.ndarray
        ``(n, p)`` fixed-effects design (full column rank).
    terms : sequence of RandomTerm
        Random-effects terms.
    link : Link
        :data:`LOGIT` or :func:`oddity_link`.
    offset : numpy.ndarray, optional
        Known part of the linear predictor.
    hessian_step : float
        Step of the central differences of the gradient that give the Hessian.

    Returns
    -------
    LaplaceFit
        Deterministic: the same data give the same numbers.
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    prob = _Problem(y, x, terms, link, offset)
    beta0 = fit_glm(y, x, link, offset)[0]
    x0 = np.concatenate([prob.theta_start(), beta0])
    nt = len(prob.theta_map)
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in prob.lower] + [(None, None)] * prob.p
    opts = {"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-7, "maxcor": 30}
    res = optimize.minimize(prob.evaluate, x0, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
    diag = [k for k, (_, r, c, _) in enumerate(prob.theta_map) if r == c]
    for _ in range(2 * len(diag)):
        # a diagonal theta at 0 is a stationary point by symmetry; step off it and keep what is better
        at_zero = [k for k in diag if res.x[k] < 1e-5]
        better = None
        for k in at_zero:
            start = res.x.copy()
            start[k] = 0.3
            prob.u = np.zeros(prob.q)
            trial = optimize.minimize(
                prob.evaluate, start, jac=True, method="L-BFGS-B", bounds=bounds, options=opts
            )
            if trial.fun < res.fun - 1e-6 and (better is None or trial.fun < better.fun):
                better = trial
        if better is None:
            break
        res = better
    prob.u = np.zeros(prob.q)
    xh = res.x
    # projected gradient at the optimum: a line-search stop ("ABNORMAL") with a gradient this small is
    # an optimum reached to the precision of the deviance (~1e-16 x n trials), not a failure
    lower = np.array([lo if np.isfinite(lo) else -np.inf for lo in prob.lower] + [-np.inf] * prob.p)
    pgrad = np.where((xh <= lower + 1e-12) & (res.jac > 0), 0.0, res.jac)
    converged = bool(res.success) or float(np.max(np.abs(pgrad))) < 1e-2
    notes = (
        []
        if converged
        else [f"Laplace optimiser: {res.message} (max |gradient| {np.max(np.abs(pgrad)):.3g})"]
    )
    dev, _ = prob.evaluate(xh, gradient=False)
    u_hat = prob.u.copy()
    m = len(xh)
    hess = np.empty((m, m))
    for j in range(m):
        e = np.zeros(m)
        e[j] = hessian_step * max(1.0, abs(xh[j]))
        prob.u = u_hat.copy()
        gp = prob.evaluate(xh + e)[1]
        prob.u = u_hat.copy()
        gm = prob.evaluate(xh - e)[1]
        hess[j] = (gp - gm) / (2 * e[j])
    hess = 0.5 * (hess + hess.T)
    prob.u = u_hat.copy()
    prob.evaluate(xh, gradient=False)
    vcond = prob.conditional_vcov(xh)
    ok = converged
    try:
        cov_full = np.linalg.inv(hess / 2.0)
        if np.linalg.eigvalsh(cov_full).min() <= 0:
            raise np.linalg.LinAlgError
        vcov = cov_full[nt:, nt:]
    except np.linalg.LinAlgError:
        cov_full = np.full((m, m), np.nan)
        vcov = vcond
        ok = False
        notes.append("Hessian of the Laplace deviance is not positive definite: SEs treat theta as known")
    if any(xh[k] < 1e-4 for k in diag):
        notes.append("boundary (singular) fit: a random-effect SD is estimated at or near 0")
    return LaplaceFit(
        xh[nt:],
        np.array(xh[:nt]),
        vcov,
        vcond,
        cov_full,
        dev,
        u_hat,
        list(terms),
        link,
        ok,
        prob.n_eval,
        notes,
        prob.n,
    )
