"""The noise-floor control reaches the report: its rows are kept apart from the metamer conditions and
summarised against chance (a simulated model observer on them is at chance)."""

from __future__ import annotations

import pandas as pd
import pytest


def test_noise_floor_trials_are_reported_beside_the_metamer_conditions(tmp_path):
    from analysis import analyze
    from psychophysics import simulate_participants
    from stimuli.testing import write_synthetic_store

    store = tmp_path / "set.h5"
    write_synthetic_store(store, n_scenes=2, n_metamers_per_scene=2, n_renders=4)
    cfg = tmp_path / "exp.toml"
    cfg.write_text(
        "[presentation]\nstimulus_ms = 100\nfixation_ms = 100\nresponse_window_ms = 600\niti_ms = 50\n"
        "feedback_ms = 100\n[design]\nonly_successful = false\nrepeats = 2\npractice_trials = 2\n"
        "catch_trials = 2\nnoise_floor_trials = 40\n[observers.model]\nsigma = 0.02\n"
    )
    simulate_participants(store, 3, "model", tmp_path / "data", seed=2, config_path=cfg, progress=False)
    res = analyze(stimuli=store, data=tmp_path / "data", out=tmp_path / "out", progress=False, run_mixed=False,
                  n_boot=50)  # fmt: skip
    analysed = res.data.analysed
    assert not analysed["metamer_id"].str.startswith("noise:").any()  # kept out of the metamer conditions
    table = pd.read_csv(tmp_path / "out" / "tables" / "noise_floor.csv")
    overall = table[table["scene_id"] == "all"].iloc[0]
    assert overall["n"] == 3 * 40
    assert overall["p_above_chance"] > 0.001  # the model observer is at chance on render noise alone
    assert overall["ci_low"] < 1 / 3 < overall["ci_high"] or overall["pc"] < 0.45
    assert "Noise-floor control" in (tmp_path / "out" / "report.html").read_text()


@pytest.mark.parametrize("n", [0])
def test_no_noise_floor_trials_no_table(tmp_path, n):
    from analysis.controls import noise_floor_table

    assert noise_floor_table(pd.DataFrame({"is_noise_floor": [False], "block_type": ["main"]})).empty
