"""`mrd simulate` end to end, and the errors of `mrd experiment` that come before any window."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from psychophysics.commands import main
from stimuli import StimulusSet
from stimuli.sessions import SIDECAR_KEYS as CONTRACT_SIDECAR_KEYS

SIDECAR_KEYS = set(CONTRACT_SIDECAR_KEYS)


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_simulate_oracle_and_chance(
    store_path: Path, fast_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert (
        main(
            [
                "simulate",
                str(store_path),
                "--observers",
                "3",
                "--observer",
                "oracle",
                "--data-dir",
                str(data),
                "--config",
                str(fast_config),
            ]
        )
        == 0
    )
    assert "proportion correct 1.000" in capsys.readouterr().out
    for pid in ("sim01", "sim02", "sim03"):
        plan = json.loads((data / f"sub-{pid}_ses-1_plan.json").read_text())
        side = json.loads((data / f"sub-{pid}_ses-1_session.json").read_text())
        got = rows(data / f"sub-{pid}_ses-1_trials.csv")
        assert [int(r["trial"]) for r in got] == [t["trial"] for t in plan["trials"]]
        assert all(r["correct"] == "1" for r in got)
        assert set(side) >= SIDECAR_KEYS and side["completed"] and side["observer"] == "oracle"
        with StimulusSet(store_path) as s:
            assert side["stimulus_digest"] == s.digest == plan["stimulus_digest"]
        assert side["frame_rate_hz"] is None and "psychopy" not in side["versions"]
    # the plans differ between participants (seeded by participant)
    assert (
        json.loads((data / "sub-sim01_ses-1_plan.json").read_text())["trials"]
        != json.loads((data / "sub-sim02_ses-1_plan.json").read_text())["trials"]
    )
    # never overwrite
    assert (
        main(
            ["simulate", str(store_path), "--observers", "1", "--observer", "chance", "--data-dir", str(data)]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "already exist" in err and "sub-sim01_ses-1_trials.csv" in err and "--data-dir" in err


def test_simulate_model_observer_records_params(store_path: Path, tmp_path: Path) -> None:
    assert (
        main(
            [
                "simulate",
                str(store_path),
                "--observers",
                "2",
                "--observer",
                "model",
                "--data-dir",
                str(tmp_path),
                "--seed",
                "5",
            ]
        )
        == 0
    )
    side = json.loads((tmp_path / "sub-sim02_ses-1_session.json").read_text())
    assert side["observer"] == "model" and side["observer_params"]["sigma"] == 0.05
    got = rows(tmp_path / "sub-sim02_ses-1_trials.csv")
    assert all(r["rt"] and float(r["rt"]) > 0 for r in got) and {r["response_position"] for r in got} <= {
        "1",
        "2",
        "3",
    }


@pytest.mark.parametrize("pid", ["../evil", "a b", "x" * 33])
def test_experiment_refuses_bad_participant(
    store_path: Path, tmp_path: Path, pid: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["experiment", "--stimuli", str(store_path), "--participant", pid, "--data-dir", str(tmp_path)])
        == 2
    )
    assert f"participant id {pid!r} is invalid" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_experiment_refuses_existing_data_and_empty_resume(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "experiment",
                "--stimuli",
                str(store_path),
                "--participant",
                "P01",
                "--data-dir",
                str(tmp_path),
                "--resume",
            ]
        )
        == 2
    )
    assert "nothing to resume" in capsys.readouterr().err
    (tmp_path / "sub-P01_ses-1_trials.csv").write_text("x\n")
    assert (
        main(
            ["experiment", "--stimuli", str(store_path), "--participant", "P01", "--data-dir", str(tmp_path)]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "already exist" in err and "sub-P01_ses-1_trials.csv" in err and "--resume" in err
    assert (tmp_path / "sub-P01_ses-1_trials.csv").read_text() == "x\n"


def test_experiment_refuses_invalid_store(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "changed.h5"
    shutil.copy(store_path, bad)
    with h5py.File(bad, "r+") as f:  # a display image changed after writing: digest mismatch
        ds = f["metamers/s0_mat/display"]
        arr = ds[()]
        arr[0, 0, 0, 0] ^= 1
        ds[...] = arr
    noth5 = tmp_path / "not.h5"
    noth5.write_text("hello")
    for path, why in (
        (bad, "digest mismatch"),
        (noth5, "not a readable HDF5"),
        (tmp_path / "no.h5", "no such"),
    ):
        assert (
            main(
                [
                    "experiment",
                    "--stimuli",
                    str(path),
                    "--participant",
                    "P01",
                    "--data-dir",
                    str(tmp_path / "d"),
                ]
            )
            == 2
        )
        err = capsys.readouterr().err
        assert f"stimulus set {path} failed validation" in err and why in err
    assert not (tmp_path / "d").exists()


def test_resume_refuses_changed_config_or_store(
    store_path: Path, fast_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["simulate", str(store_path), "--observer", "oracle", "--data-dir", str(data)]) == 0
    other = tmp_path / "other.toml"
    other.write_text("[presentation]\nstimulus_ms = 2000\n")
    base = ["experiment", "--stimuli", str(store_path), "--participant", "sim01", "--data-dir", str(data)]
    assert main([*base, "--resume", "--config", str(other)]) == 2
    assert "differs from the config saved in" in capsys.readouterr().err
    assert main([*base, "--resume"]) == 2
    assert "already has all" in capsys.readouterr().err
    plan_path = data / "sub-sim01_ses-1_plan.json"
    plan = json.loads(plan_path.read_text())
    plan["stimulus_digest"] = "0" * 64
    plan_path.write_text(json.dumps(plan))
    assert main([*base, "--resume"]) == 2
    assert "was planned on stimulus digest 000" in capsys.readouterr().err


def test_experiment_without_display_is_a_clear_error(
    store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert (
        main(
            ["experiment", "--stimuli", str(store_path), "--participant", "P01", "--data-dir", str(tmp_path)]
        )
        == 2
    )
    assert "needs a display" in capsys.readouterr().err and not any(tmp_path.iterdir())


def test_simulated_model_observer_accuracy_matches_its_dprime(store_path: Path, tmp_path: Path) -> None:
    """Across simulated participants, proportion correct equals the mean of Pc(d' = (1 - cos) / sigma)."""
    from psychophysics.observers import SimilarityTable, oddity_pc_differencing

    cfg = tmp_path / "rep.toml"
    cfg.write_text("[design]\nrepeats = 4\npractice_trials = 0\n[observers.model]\nsigma = 0.05\n")
    assert (
        main(
            ["simulate", str(store_path), "--observers", "20", "--observer", "model"]
            + ["--data-dir", str(tmp_path / "d"), "--config", str(cfg), "--seed", "3"]
        )
        == 0
    )
    with StimulusSet(store_path) as s:
        table = SimilarityTable.from_store(s)
    got = [r for p in sorted((tmp_path / "d").glob("*_trials.csv")) for r in rows(p)]
    assert len(got) == 20 * 3 * 2 * 2 * 4
    cells = {(r["metamer_id"], int(r["view"])) for r in got}
    pc = {(m, v): oddity_pc_differencing((1 - table.cosine(m, "", "", v)) / 0.05) for m, v in cells}
    predicted = np.array([pc[r["metamer_id"], int(r["view"])] for r in got])
    observed = np.array([int(r["correct"]) for r in got])
    se = np.sqrt(np.sum(predicted * (1 - predicted))) / len(got)
    assert abs(observed.mean() - predicted.mean()) < 4 * se
    assert 0.4 < predicted.mean() < 0.8  # the set spans easy and hard items


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


@pytest.mark.parametrize(
    "config, expected",
    [
        ("[presentation]\ninstructions = 'Press {procede} to start'\n", r"unknown placeholder\(s\) \{procede\}"),
        ("[presentation]\nstimulus_ms = inf\n", r"'presentation\.stimulus_ms' = inf: give a finite number"),
        ("[presentation]\nstimulus_ms = true\n", r"'presentation\.stimulus_ms' = True: a boolean is not a number"),
        ("[presentation]\nresponse_window_ms = '1200'\n", r"'presentation\.response_window_ms' = '1200': give a number"),
        ("[keys]\nposition_2 = ['dwon']\n", r"'keys\.position_2\[0\]' = 'dwon'.*did you mean 'down'"),
        (b"[design]\nseed = 1\n# caf\xe9\n", r"not UTF-8 text"),
        ("[presentation]\nimage_scale = 20\nspacing_deg = 20\n",
         r"the images do not fit the window: three images of 640 x 640 px \(32 x 32 px x scale 20\) with centres "
         r"\d+ px apart need \d+ x 640 px, the window is 640 x 480 px"),
        ("[presentation]\nimage_scale = 20\n", r"images 640 px wide \(32 px x scale 20\) with centres \d+ px apart .* would overlap"),
    ],
)
def test_bad_experiment_input_fails_before_any_file(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str | bytes, expected: str
) -> None:
    import re

    cfg = tmp_path / "exp.toml"
    if isinstance(config, bytes):
        cfg.write_bytes(config)
    else:
        cfg.write_text(config + "[monitor]\nwindow_size = [640, 480]\n", encoding="utf-8")
    data = tmp_path / "data"
    args = ["experiment", "--stimuli", str(store_path), "--participant", "P01", "--config", str(cfg),
            "--data-dir", str(data), "--windowed"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert re.search(expected, err), err
    assert "Traceback" not in err and not data.exists()


def test_folder_options_that_are_files(store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "afile"
    f.write_text("keep")
    base = ["experiment", "--stimuli", str(store_path), "--participant", "P01"]
    assert main([*base, "--data-dir", str(f)]) == 2
    assert "--data-dir" in (err := capsys.readouterr().err) and "is a file, not a folder" in err
    assert main([*base, "--data-dir", str(tmp_path / "d"), "--screenshot-dir", str(f)]) == 2
    assert "--screenshot-dir" in (err := capsys.readouterr().err) and "is a file, not a folder" in err
    assert main(["simulate", str(store_path), "--observer", "oracle", "--data-dir", str(f / "x")]) == 2
    assert "which is a file" in capsys.readouterr().err
    assert f.read_text() == "keep" and _tree(tmp_path) == {"afile"}


def test_store_without_renders_refused_for_sessions_but_simulated(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.psychophysics.conftest import build_store

    old = build_store(tmp_path / "old.h5", with_renders=False)
    data = tmp_path / "data"
    assert main(["experiment", "--stimuli", str(old), "--participant", "P01", "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "has no independent display renders" in err and "mrd generate" in err and not data.exists()
    assert main(["simulate", str(old), "--observer", "oracle", "--data-dir", str(data)]) == 0
    got = rows(data / "sub-sim01_ses-1_trials.csv")
    assert got and all(r["render_1"] == "" for r in got)


def test_model_observer_is_at_chance_on_noise_floor_trials(store_path: Path, tmp_path: Path) -> None:
    """Noise-floor control (three renders of the same target): the model observer is at chance, and it is
    not on the metamer trials (binomial tests)."""
    from scipy.stats import binomtest

    cfg = tmp_path / "noise.toml"
    cfg.write_text("[design]\nnoise_floor_trials = 60\npractice_trials = 0\n[observers.model]\nsigma = 0.05\n")
    data = tmp_path / "d"
    assert main(["simulate", str(store_path), "--observers", "10", "--observer", "model", "--data-dir", str(data),
                 "--config", str(cfg), "--seed", "1"]) == 0  # fmt: skip
    got = [r for p in sorted(data.glob("*_trials.csv")) for r in rows(p)]
    noise = [int(r["correct"]) for r in got if r["trial_type"] == "noise_floor"]
    metamer = [int(r["correct"]) for r in got if r["trial_type"] == "metamer"]
    assert len(noise) == 600 and {r["group"] for r in got if r["trial_type"] == "noise_floor"} == {"noise_floor"}
    assert binomtest(sum(noise), len(noise), 1 / 3).pvalue > 0.01
    assert binomtest(sum(metamer), len(metamer), 1 / 3, alternative="greater").pvalue < 1e-3


def test_only_successful_count_is_printed(store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(store_path), "--observer", "oracle", "--data-dir", str(tmp_path / "d")]) == 0
    assert "design.only_successful: 1 of 4 metamers left out" in capsys.readouterr().out
    side = json.loads((tmp_path / "d" / "sub-sim01_ses-1_session.json").read_text())
    assert side["selection"] == {"in_store": 4, "not_in_models_or_groups": 0, "unsuccessful": 1, "selected": 3}
