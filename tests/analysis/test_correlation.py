"""Spearman correlation of item d' with similarity; two-way bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.correlation import _rowwise_spearman, bootstrap_spearman, item_correlations
from analysis.oddity import dprime_from_pc


def _trials(slope: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sim = np.linspace(0.6, 1.0, 15)
    rows = [
        (f"p{p}", f"i{i:02d}", s, int(rng.random() < 0.34 + slope * (1 - s)))
        for p in range(10)
        for i, s in enumerate(sim)
        for _ in range(8)
    ]
    return pd.DataFrame(rows, columns=["participant", "item", "similarity", "correct"]).assign(group="g")


def test_rowwise_spearman_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, (20, 12)).astype(float)  # many ties
    y = rng.normal(size=(20, 12))
    expected = [stats.spearmanr(a, b).statistic for a, b in zip(x, y, strict=True)]
    np.testing.assert_allclose(_rowwise_spearman(x, y), expected, atol=1e-12)


def test_rho_matches_groupby_route_and_ci() -> None:
    t = _trials(1.5, 1)
    table = item_correlations(t, n_boot=400, seed=3)
    items = t.groupby("item").agg(pc=("correct", "mean"), similarity=("similarity", "mean"))
    rho = stats.spearmanr(dprime_from_pc(items["pc"].to_numpy()), items["similarity"]).statistic
    row = table.iloc[0]
    assert row["rho"] == rho and row["n_items"] == 15 and row["n_participants"] == 10
    assert row["lo"] <= rho <= row["hi"] and row["hi"] < 0


def test_null_relationship_interval_contains_zero() -> None:
    row = item_correlations(_trials(0.0, 2).assign(correct=lambda d: d["correct"]), n_boot=400).iloc[0]
    assert row["lo"] < 0 < row["hi"]


def test_bootstrap_deterministic_and_valid() -> None:
    k = np.array([[3, 5, 7], [2, 6, 8]])
    n = np.full((2, 3), 8)
    a = bootstrap_spearman(k, n, np.array([0.9, 0.8, 0.7]), n_boot=50, seed=4)
    b = bootstrap_spearman(k, n, np.array([0.9, 0.8, 0.7]), n_boot=50, seed=4)
    assert a[:3] == b[:3] and a[0] == -1.0
