"""Oddity (triangle) signal detection: pc <-> d', edges, CIs, against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats
from statsmodels.stats.proportion import proportion_confint

from analysis.oddity import (
    DPRIME_MAX,
    GUESS_RATE,
    PC_MAX,
    binomial_ci,
    dprime_from_counts,
    dprime_from_pc,
    pc_derivative,
    pc_from_dprime,
)


def test_round_trip() -> None:
    d = np.linspace(0.01, DPRIME_MAX - 1e-6, 2001)
    assert np.max(np.abs(dprime_from_pc(pc_from_dprime(d)) - d)) < 1e-9
    p = np.linspace(GUESS_RATE + 1e-6, PC_MAX - 1e-9, 2001)
    assert np.max(np.abs(pc_from_dprime(dprime_from_pc(p)) - p)) < 1e-12


def test_monotone() -> None:
    pc = pc_from_dprime(np.linspace(0, 9, 5001))
    assert np.all(np.diff(pc) > 0)
    d = dprime_from_pc(np.linspace(0, 1, 5001))
    assert np.all(np.diff(d) >= 0)
    assert np.all(pc_derivative(np.linspace(0.01, 9, 500)) > 0)


def test_edges_and_shapes() -> None:
    assert pc_from_dprime(0.0) == pytest.approx(1 / 3, abs=1e-14)
    assert pc_from_dprime(20.0) == pytest.approx(1.0, abs=1e-12)
    assert dprime_from_pc([0.0, 0.2, 1 / 3]).tolist() == [0.0, 0.0, 0.0]
    assert dprime_from_pc([PC_MAX, 0.999, 1.0]).tolist() == [DPRIME_MAX] * 3
    assert np.isnan(dprime_from_pc(np.nan))
    assert dprime_from_pc(np.full((2, 3), 0.6)).shape == (2, 3)
    assert abs(PC_MAX - 0.98569) < 1e-5
    with pytest.raises(ValueError, match="outside"):
        dprime_from_pc(1.2)


def _pc_quad(d: float) -> float:
    # The same published integral, evaluated by adaptive QUADPACK instead of fixed Gauss-Legendre.
    def f(z: float) -> float:
        b = d * np.sqrt(2 / 3)
        return (
            2
            * (stats.norm.cdf(-z * np.sqrt(3) + b) + stats.norm.cdf(-z * np.sqrt(3) - b))
            * stats.norm.pdf(z)
        )

    return integrate.quad(f, 0, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)[0]


@pytest.mark.parametrize("d", [0.0, 0.3, 1.0, 2.2, 3.7, 5.0, 8.0, 12.0])
def test_matches_adaptive_quadrature(d: float) -> None:
    assert float(pc_from_dprime(d)) == pytest.approx(_pc_quad(d), abs=1e-11)


def test_derivative_matches_finite_difference() -> None:
    d = np.linspace(0.05, 7, 50)
    h = 1e-6
    fd = (pc_from_dprime(d + h) - pc_from_dprime(d - h)) / (2 * h)
    assert np.max(np.abs(pc_derivative(d) - fd)) < 1e-7


def test_monte_carlo_decision_rule() -> None:
    """Simulate the observer: three noisy observations, the closest pair is 'same', the other is odd."""
    rng = np.random.default_rng(2024)
    n = 200_000
    for d in (0.0, 0.5, 1.0, 2.0, 3.0, 4.5):
        x = rng.normal(size=(n, 3))
        x[:, 0] += d  # item 0 is odd
        gaps = np.stack(
            [np.abs(x[:, 1] - x[:, 2]), np.abs(x[:, 0] - x[:, 2]), np.abs(x[:, 0] - x[:, 1])], axis=1
        )
        chosen = np.argmin(gaps, axis=1)  # the item left out of the closest pair
        pc_mc = np.mean(chosen == 0)
        p = float(pc_from_dprime(d))
        se = np.sqrt(p * (1 - p) / n)
        assert abs(pc_mc - p) < 4 * se, (d, pc_mc, p)


def test_published_triangle_values() -> None:
    # Triangle-test tables (Frijters, Kooistra & Vereijken 1980; Ennis 1993): d' = 1, 2, 3.
    assert pc_from_dprime([1.0, 2.0, 3.0]).round(3).tolist() == [0.418, 0.605, 0.781]


def test_agrees_with_psychophysics_implementation() -> None:
    observers = pytest.importorskip("psychophysics.observers")
    for d in (0.4, 1.3, 2.5, 4.0):
        assert float(pc_from_dprime(d)) == pytest.approx(observers.oddity_pc_differencing(d), abs=1e-8)


@pytest.mark.parametrize("method,sm", [("wilson", "wilson"), ("clopper-pearson", "beta")])
def test_binomial_ci_matches_statsmodels(method: str, sm: str) -> None:
    k = np.array([0, 1, 5, 17, 30, 59, 60, 3])
    n = np.array([60, 60, 60, 60, 60, 60, 60, 4])
    lo, hi = binomial_ci(k, n, method=method)  # type: ignore[arg-type]
    ref_lo, ref_hi = proportion_confint(k, n, alpha=0.05, method=sm)
    np.testing.assert_allclose(lo, ref_lo, atol=1e-10)
    np.testing.assert_allclose(hi, ref_hi, atol=1e-10)
    assert np.all(np.isnan(binomial_ci(0, 0)))


def test_dprime_from_counts_intervals() -> None:
    k = np.array([0, 20, 30, 45, 60])
    d, lo, hi = dprime_from_counts(k, 60)
    assert np.all(lo <= d) and np.all(d <= hi)
    assert d[0] == 0 and lo[0] == 0 and d[-1] == DPRIME_MAX and hi[-1] == DPRIME_MAX
    plo, phi = binomial_ci(k, 60)
    np.testing.assert_allclose(lo, dprime_from_pc(plo))
    np.testing.assert_allclose(hi, dprime_from_pc(phi))
