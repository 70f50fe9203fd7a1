"""Binomial mixed model and GEE recover known effects from a simulated logistic GLMM."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.mixed import default_formula, fit_mixed

BETA0, BETA_SIM, BETA_GROUP, SD_P, SD_I = 0.4, -0.9, 0.6, 0.5, 0.6


def _glmm(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_p, n_i, reps = 16, 40, 8
    u_p, u_i = rng.normal(0, SD_P, n_p), rng.normal(0, SD_I, n_i)
    sim_i = rng.uniform(0.7, 1.0, n_i)
    group_i = np.where(np.arange(n_i) % 2 == 0, "material", "shape")
    p, i = np.repeat(np.arange(n_p), n_i * reps), np.tile(np.repeat(np.arange(n_i), reps), n_p)
    z = (sim_i - sim_i[i].mean()) / sim_i[i].std()
    eta = BETA0 + BETA_SIM * z[i] + BETA_GROUP * (group_i[i] == "shape") + u_p[p] + u_i[i]
    return pd.DataFrame(
        {
            "participant": [f"p{v}" for v in p],
            "item": [f"i{v}" for v in i],
            "similarity": sim_i[i],
            "group": group_i[i],
            "correct": (rng.random(len(p)) < 1 / (1 + np.exp(-eta))).astype(int),
        }
    )


def test_default_formula() -> None:
    t = _glmm(0)
    assert default_formula(t) == "correct ~ similarity_z * C(group)"
    assert default_formula(t.drop(columns="similarity"), ["group"]) == "correct ~ C(group)"


def test_recovers_known_effects() -> None:
    t = _glmm(1)
    res = fit_mixed(t, formula="correct ~ similarity_z + C(group)", gee=True)
    eff = res.effects.set_index(["method", "term"])
    vb, gee = eff.loc["glmm-laplace"], eff.loc["gee"]
    assert abs(vb.loc["similarity_z", "estimate"] - BETA_SIM) < 0.35
    assert abs(vb.loc["C(group)[T.shape]", "estimate"] - BETA_GROUP) < 0.45
    assert gee.loc["similarity_z", "hi"] < 0
    assert 0.25 < vb.loc["participant", "estimate"] < 1.0 and 0.3 < vb.loc["item", "estimate"] < 1.2
    assert res.random == ["participant", "item"] and res.n_trials == len(t)
    assert set(res.standardisation) == {"similarity"}
    for _, row in res.effects.iterrows():
        assert row["lo"] <= row["estimate"] <= row["hi"]


def test_all_identical_responses_are_reported_not_fitted():
    import pandas as pd

    from analysis.mixed import fit_mixed

    trials = pd.DataFrame(
        {
            "participant": ["a", "b"] * 20,
            "item": ["x", "y", "z", "w"] * 10,
            "group": ["shape", "material"] * 20,
            "similarity": [0.9, 0.95, 0.97, 0.99] * 10,
            "correct": [1] * 40,
        }
    )
    res = fit_mixed(trials, formula="correct ~ similarity_z")
    assert res.effects.empty
    assert any("all 40 analysed responses are correct" in n for n in res.notes)
