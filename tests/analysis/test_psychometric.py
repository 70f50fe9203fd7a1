"""Psychometric fits: analytic gradient, parameter recovery with interval coverage, per-group fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize

from analysis.psychometric import PARAMS, _nll_grad, fit_by_group, fit_psychometric, predict

TRUE = {"alpha": 0.05, "beta": 1.5, "lapse": 0.04}


def _simulate(seed: int, n: int = 1000, params: dict[str, float] = TRUE) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.exp(rng.uniform(np.log(0.003), np.log(0.4), n))
    return x, (rng.random(n) < predict(x, **params)).astype(int)


def test_gradient_is_exact() -> None:
    x, c = _simulate(0)
    logx = np.log(x)
    k, n = c.astype(float), np.ones_like(x)
    for theta in ([np.log(0.04), 0.3, -2.0], [np.log(0.1), -0.2, 0.5]):
        err = optimize.check_grad(
            lambda t: _nll_grad(t, logx, k, n)[0], lambda t: _nll_grad(t, logx, k, n)[1], np.array(theta)
        )
        assert err < 1e-3


def test_parameter_recovery_coverage() -> None:
    """30 seeded simulated observers: each true parameter inside its 95% interval in >= 90% of them."""
    hits = dict.fromkeys(PARAMS, 0)
    reps = 30
    for rep in range(reps):
        fit = fit_psychometric(*_simulate(100 + rep))
        assert fit.converged
        for p in PARAMS:
            lo, hi = fit.ci[p]
            assert lo <= getattr(fit, p) <= hi
            hits[p] += lo <= TRUE[p] <= hi
    coverage = {p: h / reps for p, h in hits.items()}
    assert all(c >= 0.9 for c in coverage.values()), coverage


def test_bootstrap_intervals() -> None:
    x, c = _simulate(5, n=1500)
    fit = fit_psychometric(np.round(x, 2), c, ci="bootstrap", n_boot=40, seed=1)
    assert fit.ci_method == "bootstrap"
    for p in PARAMS:
        assert fit.ci[p][0] < getattr(fit, p) < fit.ci[p][1]


def test_fit_by_group_orders_thresholds() -> None:
    parts = []
    for seed, g, alpha in ((1, "easy", 0.02), (2, "hard", 0.08)):
        x, c = _simulate(seed, n=1200, params={"alpha": alpha, "beta": 2.0, "lapse": 0.03})
        parts.append(pd.DataFrame({"group": g, "distance": x, "correct": c}))
    table, fits = fit_by_group(pd.concat(parts))
    assert set(fits) == {"easy", "hard"}
    a = table[table["parameter"] == "alpha"].set_index("group")
    assert a.loc["easy", "hi"] < a.loc["hard", "lo"]
    assert (
        a.loc["easy", "lo"] < 0.02 < a.loc["easy", "hi"] and a.loc["hard", "lo"] < 0.08 < a.loc["hard", "hi"]
    )
