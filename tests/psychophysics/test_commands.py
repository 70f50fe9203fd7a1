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
