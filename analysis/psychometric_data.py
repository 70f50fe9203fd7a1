"""Checks and aggregation of psychometric data shared by the built-in fit (:mod:`analysis.psychometric`)
and the psignifit backend (:mod:`analysis.psignifit_backend`).

Examples
--------
>>> import numpy as np
>>> [v.tolist() for v in aggregate(np.array([1.0, 1.0, 2.0]), np.array([1, 0, 1]))]
[[1.0, 2.0], [1.0, 1.0], [2.0, 1.0]]
"""

from __future__ import annotations

import numpy as np

from stimuli.errors import MRDError


def _aggregate(x: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ux, inv = np.unique(np.asarray(x, dtype=float), return_inverse=True)
    k = np.bincount(inv, weights=np.asarray(correct, dtype=float), minlength=len(ux))
    n = np.bincount(inv, minlength=len(ux)).astype(float)
    return ux, k, n


def check_distances(x: np.ndarray, what: str = "distance") -> None:
    """Refuse negative, infinite or NaN distances with a message naming the first bad value.

    Distances within 1e-9 below 0 (floating-point rounding of ``1 - cosine``) pass and count as 0.

    Examples
    --------
    >>> check_distances(np.array([0.1, -0.2]))
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: psychometric fit: distance -0.2 (trial 2 of 2) is negative; distances must be finite and >= 0 (larger = more different)
    """

    bad = ~np.isfinite(x) | (x < -1e-9)  # rounding (cosine a hair above 1) is not an error
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind = "negative" if np.isfinite(x[i]) else ("not a number" if np.isnan(x[i]) else "infinite")
        raise MRDError(
            f"psychometric fit: {what} {x[i]:g} (trial {i + 1} of {len(x)}) is {kind}; distances must be finite "
            "and >= 0 (larger = more different)"
        )


aggregate = _aggregate
