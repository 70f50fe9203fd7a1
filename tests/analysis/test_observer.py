"""Model observer: sigma recovered from responses made by the explicit oddity decision rule."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.observer import compare_items, fit_sigma, predict_trials
from analysis.oddity import pc_from_dprime


def _decision_rule_trials(sigma: float, seed: int) -> pd.DataFrame:
    """Each trial: target at 0, metamer at distance d, Gaussian noise sigma, differencing decision."""
    rng = np.random.default_rng(seed)
    item_d = np.exp(rng.uniform(np.log(0.005), np.log(0.3), 40))
    item = rng.integers(0, 40, 6000)
    d = item_d[item]
    x = rng.normal(0, sigma, (len(d), 3))
    x[:, 0] += d  # odd item at 0
    gaps = np.stack([np.abs(x[:, 1] - x[:, 2]), np.abs(x[:, 0] - x[:, 2]), np.abs(x[:, 0] - x[:, 1])], axis=1)
    correct = (np.argmin(gaps, axis=1) == 0).astype(int)
    return pd.DataFrame(
        {
            "item": [f"i{j:02d}" for j in item],
            "group": "g",
            "condition": "g / m",
            "distance": d,
            "correct": correct,
        }
    )


def test_sigma_recovered_with_profile_interval() -> None:
    covered = 0
    for seed in range(5):
        fit = fit_sigma(_decision_rule_trials(0.04, seed))
        assert fit.fitted and fit.lo < fit.sigma < fit.hi
        covered += fit.lo <= 0.04 <= fit.hi
    assert covered >= 4


def test_given_sigma_and_item_comparison() -> None:
    t = _decision_rule_trials(0.04, 11)
    fit = fit_sigma(t, sigma=0.04)
    assert not fit.fitted and fit.sigma == 0.04 and np.isnan(fit.lo)
    comp = compare_items(t, 0.04)
    pred = predict_trials(t, 0.04)
    one = comp.iloc[0]
    same = pred[pred["item"] == one["item"]]
    assert one["model_pc"] == np.mean(pc_from_dprime(same["distance"] / 0.04))
    assert one["n"] == len(same) and one["human_pc"] == same["correct"].mean()
    # the observer that generated the data predicts the item accuracies well
    assert np.corrcoef(comp["model_pc"], comp["human_pc"])[0, 1] > 0.9
