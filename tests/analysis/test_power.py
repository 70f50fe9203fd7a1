"""Power by simulation: the false-positive rate is alpha, a planted effect is detected at the rate its
simulated sampling distribution implies (binomial tolerance), and `mrd power` runs from a stimulus set
or a trial table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.commands import main as cli
from analysis.power import power_grid, simulate_study


def _items(n: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "item": [f"i{k}" for k in range(n)],
            "group": "g",
            "condition": "g",
            "view": 0,
            "similarity": rng.uniform(0.6, 1.0, n),
        }
    )


def test_simulated_study_follows_the_model() -> None:
    t = simulate_study(
        _items(),
        5,
        40,
        effect=-1.0,
        baseline_pc=0.7,
        sd_participant=0.0,
        sd_item=0.0,
        rng=np.random.default_rng(1),
    )
    assert len(t) == 5 * 12 * 40 and t.groupby("participant").size().eq(480).all()
    assert t["p_true"].min() > 1 / 3 and abs(t["correct"].mean() - t["p_true"].mean()) < 0.03
    # more similar items are harder
    by_item = t.groupby("item").agg(sim=("similarity", "first"), pc=("correct", "mean"))
    assert stats.spearmanr(by_item["sim"], by_item["pc"])[0] < -0.5


def test_null_effect_is_detected_at_alpha() -> None:
    tab = power_grid(_items(16), [6], [4], effect=0.0, n_sims=100, seed=3, progress=False)
    detected = int(tab["detected"].iloc[0])
    # false positives of a two-sided test at 0.05: within the binomial 0.999 quantile
    assert detected <= stats.binom.ppf(0.999, 100, 0.05) and tab["failed_fits"].iloc[0] == 0


def test_planted_effect_is_detected_at_the_simulated_rate() -> None:
    tab = power_grid(_items(16), [4, 12], [4], effect=-0.5, n_sims=50, seed=4, progress=False)
    for _, r in tab.iterrows():
        # the detection rate implied by the simulated estimates' mean and SE (normal Wald statistic)
        expected = stats.norm.cdf(abs(r["mean_estimate"]) / r["mean_se"] - stats.norm.ppf(0.975))
        tol = 3 * np.sqrt(50 * expected * (1 - expected)) + 3
        assert abs(r["detected"] - 50 * expected) <= tol, (r.to_dict(), expected)
        assert r["power_lo"] <= r["power"] <= r["power_hi"]
    assert tab["power"].iloc[1] > tab["power"].iloc[0]  # more participants, more power


def test_command_from_stimulus_set_and_table(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "p"
    args = ["power", "--stimuli", str(store), "--out", str(out), "--participants", "3,5", "--repeats", "2"]
    assert cli([*args, "--items", "10", "--n-sims", "3", "--quiet"]) == 0
    tab = pd.read_csv(out / "power.csv")
    assert tab[["participants", "repeats", "items"]].values.tolist() == [[3, 2, 10], [5, 2, 10]]
    assert (out / "power.png").stat().st_size > 1000 and (out / "power.svg").exists()
    table = tmp_path / "t.csv"
    _items(10).assign(x=lambda d: 1 - d["similarity"]).to_csv(table, index=False)
    base = ["power", "--trials", str(table), "--out", str(tmp_path / "q"), "--participants", "3"]
    base += ["--repeats", "2", "--n-sims", "2", "--quiet"]
    assert cli([*base, "--x-col", "x"]) == 0 and (tmp_path / "q" / "power.csv").exists()
    pd.DataFrame({"item": ["a", "b"], "correct": [1, 0]}).to_csv(table, index=False)
    capsys.readouterr()
    assert cli(base) == 2
    assert "needs a numeric predictor" in capsys.readouterr().err
