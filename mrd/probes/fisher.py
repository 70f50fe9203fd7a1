"""Fisher information of a group's parameters and its eigen-decomposition: exact, or matrix-free Lanczos.

With ``f`` the model's activations as a function of a group's latent variables
(:class:`mrd.probes.operator.ActivationMap`) and ``J`` its Jacobian at the target, the Fisher
information under isotropic Gaussian activation noise is ``F = J^T J`` (up to the noise variance;
Berardino et al. 2017 use the same quantity in pixel space). Its top eigenvector is the change of
the group's *latent* parameters the model is most sensitive to, per unit latent length; its bottom
eigenvector the one it is least sensitive to. The metric on the latent space is Euclidean in the
group's own parametrisation (material: logits of the values on their ranges; lighting: log
radiances; shape: LargeSteps coordinates); the physical size of a step is measured afterwards
(:mod:`mrd.probes.steps`).

* :func:`exact_fisher`: ``J`` from one JVP per latent coordinate, then ``eigh(J^T J)`` — for the few
  material and lighting parameters.
* :func:`lanczos`: ``k`` Lanczos iterations with full re-orthogonalisation on the matrix-free
  operator ``v -> J^T (J v)`` (one JVP and one VJP each) — for shape (thousands of coordinates).
  Extreme Ritz values converge first; the smallest ones come from the same run.
* :func:`fd_eigenvalue`: the independent check, ``||(f(z + h v) - f(z - h v)) / 2h||^2``
  (central differences, common random numbers), which equals ``v^T F v = lambda`` for a unit
  eigenvector ``v``.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> a = rng.standard_normal((30, 30)); a = a @ a.T
>>> res = lanczos(lambda v: a @ v, 30, iterations=30, rng=rng)
>>> bool(np.allclose(res.eigenvalues[[0, -1]], np.linalg.eigvalsh(a)[[-1, 0]]))
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stimuli.errors import MRDError

MatVec = Callable[[np.ndarray], np.ndarray]


@dataclass
class Eigen:
    """Eigenvalues (descending) and unit eigenvectors (columns) of a Fisher information.

    Attributes
    ----------
    eigenvalues : numpy.ndarray
        ``(k,)`` descending.
    vectors : numpy.ndarray
        ``(n, k)``, unit columns in the latent space.
    method : str
        ``"exact"`` or ``"lanczos"``.
    iterations : int
        Operator applications (exact: JVPs; Lanczos: ``J^T J v`` products).
    residuals : numpy.ndarray
        ``||F v - lambda v|| / lambda_max`` per pair (Lanczos's own estimate; 0 for exact).
    """

    eigenvalues: np.ndarray
    vectors: np.ndarray
    method: str
    iterations: int
    residuals: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def most(self, i: int = 0) -> tuple[float, np.ndarray]:
        """The ``i``-th most sensitive pair ``(eigenvalue, vector)``."""
        return float(self.eigenvalues[i]), self.vectors[:, i]

    def least(self, i: int = 0) -> tuple[float, np.ndarray]:
        """The ``i``-th least sensitive pair."""
        j = len(self.eigenvalues) - 1 - i
        return float(self.eigenvalues[j]), self.vectors[:, j]


def _canonical_sign(vectors: np.ndarray) -> np.ndarray:
    """Flip each column so that its largest-magnitude entry is positive (eigenvectors have no sign)."""
    idx = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[idx, np.arange(vectors.shape[1])])
    return vectors * np.where(signs == 0, 1.0, signs)


def eigen_of_jacobian(jac: np.ndarray) -> Eigen:
    """Exact eigen-decomposition of ``J^T J`` from a Jacobian ``(m, n)``.

    Examples
    --------
    >>> e = eigen_of_jacobian(np.array([[3.0, 0.0], [0.0, 1.0]]))
    >>> e.eigenvalues.tolist(), e.vectors[:, 0].tolist()
    ([9.0, 1.0], [1.0, 0.0])
    """
    jac = np.asarray(jac, np.float64)
    fisher = jac.T @ jac
    vals, vecs = np.linalg.eigh(0.5 * (fisher + fisher.T))
    order = np.argsort(vals)[::-1]
    vals = np.clip(vals[order], 0.0, None)
    return Eigen(vals, _canonical_sign(vecs[:, order]), "exact", jac.shape[1], np.zeros(len(vals)))


def exact_fisher(op: Any) -> Eigen:
    """Exact decomposition for a small group: ``J`` by :meth:`~mrd.probes.operator.ActivationMap.jacobian`.

    Examples
    --------
    >>> class Linear:  # any object with .jacobian() works
    ...     def jacobian(self):
    ...         return np.array([[1.0, 1.0]])
    >>> exact_fisher(Linear()).eigenvalues.round(6).tolist()
    [2.0, 0.0]
    """
    return eigen_of_jacobian(op.jacobian())


def lanczos(
    matvec: MatVec, n: int, *, iterations: int = 20, rng: np.random.Generator | int | None = 0,
    progress: Any = None,
) -> Eigen:  # fmt: skip
    """Lanczos tridiagonalisation of a symmetric positive semi-definite operator (full re-orthogonalisation).

    Parameters
    ----------
    matvec : callable
        ``v -> F v`` for ``(n,)`` vectors.
    n : int
        Dimension.
    iterations : int
        Krylov dimension ``k`` (``<= n``); costs ``k`` operator applications.
    rng : Generator or int, optional
        Start vector (standard normal).
    progress : callable, optional
        Called with no arguments after each application (a progress bar's ``update``).

    Returns
    -------
    Eigen
        All ``k`` Ritz pairs, descending; ``residuals`` are ``|beta_k s_k| / lambda_max``.

    Examples
    --------
    >>> d = np.diag(np.arange(1.0, 101.0))
    >>> e = lanczos(lambda v: d @ v, 100, iterations=40)
    >>> round(float(e.eigenvalues[0]), 6), bool(e.residuals[0] < 1e-3)
    (100.0, True)
    """
    k = int(min(iterations, n))
    if k < 1:
        raise MRDError(f"probe: Lanczos needs at least one iteration on a space of dimension >= 1 (n = {n})")
    rng = np.random.default_rng(rng)
    basis = np.zeros((n, k))
    alpha, beta = np.zeros(k), np.zeros(k)
    q = rng.standard_normal(n)
    q /= np.linalg.norm(q)
    used = 0
    for j in range(k):
        basis[:, j] = q
        w = np.asarray(matvec(q), np.float64).ravel()
        used += 1
        if progress is not None:
            progress()
        alpha[j] = float(q @ w)
        w = w - basis[:, : j + 1] @ (basis[:, : j + 1].T @ w)  # full re-orthogonalisation, twice
        w = w - basis[:, : j + 1] @ (basis[:, : j + 1].T @ w)
        beta[j] = float(np.linalg.norm(w))
        if j + 1 < k:
            if beta[j] <= 1e-12 * max(abs(alpha[: j + 1]).max(), 1e-300):  # invariant subspace: restart orthogonally
                w = rng.standard_normal(n)
                w -= basis[:, : j + 1] @ (basis[:, : j + 1].T @ w)
                beta[j] = 0.0
                q = w / np.linalg.norm(w)
            else:
                q = w / beta[j]
    tri = np.diag(alpha) + np.diag(beta[: k - 1], 1) + np.diag(beta[: k - 1], -1)
    vals, s = np.linalg.eigh(tri)
    order = np.argsort(vals)[::-1]
    vals, s = vals[order], s[:, order]
    vectors = basis @ s
    vectors /= np.linalg.norm(vectors, axis=0, keepdims=True)
    top = max(float(vals[0]), 1e-300)
    resid = np.abs(beta[k - 1] * s[-1, :]) / top
    return Eigen(np.clip(vals, 0.0, None), _canonical_sign(vectors), "lanczos", used, resid)


def fisher_eigen(op: Any, *, method: str = "auto", exact_max: int = 64, iterations: int = 20,
                 seed: int = 0, progress: Any = None) -> Eigen:  # fmt: skip
    """Decompose the Fisher information of an :class:`~mrd.probes.operator.ActivationMap`.

    ``method="auto"`` is exact for groups with at most ``exact_max`` latent coordinates, else Lanczos.

    Examples
    --------
    >>> class Op:
    ...     n = 2
    ...     def jacobian(self):
    ...         return np.array([[2.0, 0.0]])
    ...     def fisher(self, v):
    ...         return np.array([4.0 * v[0], 0.0])
    >>> fisher_eigen(Op()).method, fisher_eigen(Op(), method="lanczos", iterations=2).eigenvalues.round(6).tolist()
    ('exact', [4.0, 0.0])
    """
    if method not in ("auto", "exact", "lanczos"):
        raise MRDError(f"probe: method {method!r} is not one of auto, exact, lanczos")
    if method == "exact" or (method == "auto" and op.n <= exact_max):
        return exact_fisher(op)
    return lanczos(op.fisher, op.n, iterations=iterations, rng=seed, progress=progress)


def fd_eigenvalue(op: Any, vector: np.ndarray, h: float = 1e-2) -> float:
    """``||(f(z0 + h v) - f(z0 - h v)) / 2h||^2`` for a unit vector ``v``: ``v^T F v`` by finite differences.

    Examples
    --------
    >>> class Quadratic:
    ...     def finite_difference(self, v, h):
    ...         return 3.0 * np.asarray(v)
    >>> round(fd_eigenvalue(Quadratic(), np.array([0.6, 0.8])), 9)
    9.0
    """
    v = np.asarray(vector, np.float64)
    v = v / np.linalg.norm(v)
    d = op.finite_difference(v, h)
    return float(d @ d)
