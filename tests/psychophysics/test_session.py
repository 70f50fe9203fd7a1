"""The real PsychoPy session under Xvfb, run in subprocesses (so crashes and kills cannot hit pytest)."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from psychophysics.design import Trial
from psychophysics.images import TrialImages
from stimuli import StimulusSet

pytestmark = [
    pytest.mark.display,
    pytest.mark.skipif(
        not os.environ.get("DISPLAY"),
        reason="no X display: PsychoPy windows need one (run under xvfb-run, as `make test` does)",
    ),
]
GREY = np.array([128, 128, 128])  # PsychoPy rgb (0, 0, 0)


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def files(data: Path, pid: str) -> tuple[Path, Path, Path]:
    return (
        data / f"sub-{pid}_ses-1_trials.csv",
        data / f"sub-{pid}_ses-1_session.json",
        data / f"sub-{pid}_ses-1_plan.json",
    )


@pytest.fixture(scope="module")
def oracle_run(
    store_path: Path, cli: Callable, fast_config_text: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    root = tmp_path_factory.mktemp("oracle")
    cfg = root / "fast.toml"
    cfg.write_text(fast_config_text, encoding="utf-8")
    proc = cli(
        [
            "experiment",
            "--stimuli",
            str(store_path),
            "--participant",
            "P01",
            "--config",
            str(cfg),
            "--data-dir",
            str(root / "data"),
            "--simulate",
            "oracle",
            "--screenshot-dir",
            str(root / "shots"),
        ]
    )
    return {"proc": proc, "data": root / "data", "shots": root / "shots"}


def test_oracle_session_all_correct_with_store_digest(oracle_run: dict, store_path: Path) -> None:
    proc = oracle_run["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    csv_path, side_path, plan_path = files(oracle_run["data"], "P01")
    plan, side, got = json.loads(plan_path.read_text()), json.loads(side_path.read_text()), rows(csv_path)
    assert len(got) == len(plan["trials"]) == side["n_trials_planned"] == side["n_trials_done"] == 17
    assert [int(r["trial"]) for r in got] == list(range(1, 18))
    assert all(r["correct"] == "1" and r["response_position"] == r["odd_position"] for r in got)
    assert all(0 < float(r["rt"]) < 5 for r in got)
    assert {r["block_type"] for r in got} == {"practice", "main"} and sum(
        r["is_catch"] == "1" for r in got
    ) == 2
    assert all(r["frame_interval_mean_ms"] and r["dropped_frames"] for r in got)
    with StimulusSet(store_path) as s:
        assert side["stimulus_digest"] == s.digest
    assert side["completed"] is True and side["ended"] and side["observer"] == "oracle"
    assert (
        side["frame_rate_hz"] > 0 and side["versions"]["psychopy"] and side["monitor"]["distance_cm"] == 57.0
    )
    assert Path(side["stimulus_set"]) == store_path.resolve()


def _expected_centres(
    cfg_width_px: int = 640,
    width_cm: float = 30.0,
    dist_cm: float = 57.0,
    spacing_deg: float = 6.0,
    size_deg: float = 4.0,
) -> tuple[list[float], float]:
    """Image centres and size in pixels from the monitor geometry (independent of PsychoPy)."""
    px_per_cm = cfg_width_px / width_cm
    deg_px = 2 * dist_cm * math.tan(math.radians(0.5)) * px_per_cm
    return [cfg_width_px / 2 + k * spacing_deg * deg_px for k in (-1, 0, 1)], size_deg * deg_px


def test_screenshot_shows_three_images_at_configured_positions(oracle_run: dict, store_path: Path) -> None:
    shot = np.asarray(Image.open(oracle_run["shots"] / "trial-0001.png").convert("RGB")).astype(int)
    assert shot.shape == (480, 640, 3)
    centres, size = _expected_centres()
    non_grey = np.abs(shot - GREY).sum(axis=2) > 30
    cols = np.flatnonzero(non_grey.any(axis=0))
    runs = np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1)  # three runs of image columns
    assert len(runs) == 3
    row_span = np.flatnonzero(non_grey.any(axis=1))
    assert (
        abs((row_span[0] + row_span[-1]) / 2 - 240) <= 2 and abs(row_span[-1] - row_span[0] + 1 - size) <= 3
    )
    plan = json.loads(files(oracle_run["data"], "P01")[2].read_text())
    trial = Trial.from_dict(plan["trials"][0])
    with StimulusSet(store_path) as s:
        sources = TrialImages(s).arrays(trial)
    for run, centre, src in zip(runs, centres, sources, strict=True):
        assert abs((run[0] + run[-1]) / 2 - centre) <= 2 and abs(run[-1] - run[0] + 1 - size) <= 3
        crop = shot[row_span[0] : row_span[-1] + 1, run[0] : run[-1] + 1].astype(np.uint8)
        assert crop.std() > 10  # not blank: a patch with a marker
        small = np.asarray(Image.fromarray(crop).resize(src.shape[1::-1], Image.BILINEAR)).astype(int)
        # upright and the right image: closer to its own source than to the flipped source
        assert np.abs(small - src).mean() < 15
        assert np.abs(small - src).mean() < np.abs(small - src[::-1]).mean()


def _wait_rows(path: Path, n: int, proc: subprocess.Popen[str], timeout: float = 90) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists():
            k = path.read_bytes().count(b"\n") - 1
            if k >= n:
                return k
        if proc.poll() is not None:
            proc.log.seek(0)  # type: ignore[attr-defined]
            raise AssertionError(f"session ended early: {proc.log.read()}")  # type: ignore[attr-defined]
        time.sleep(0.005)
    raise AssertionError(f"fewer than {n} rows after {timeout} s")


def test_sigkill_then_resume_loses_and_duplicates_nothing(
    store_path: Path, cli: Callable, cli_popen: Callable, fast_config_text: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "slow.toml"
    cfg.write_text(fast_config_text.replace("iti_ms = 0", "iti_ms = 150"), encoding="utf-8")
    data = tmp_path / "data"
    args = [
        "experiment",
        "--stimuli",
        str(store_path),
        "--participant",
        "K1",
        "--config",
        str(cfg),
        "--data-dir",
        str(data),
        "--simulate",
        "oracle",
    ]
    proc = cli_popen(args)
    _wait_rows(files(data, "K1")[0], 5, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    killed = rows(files(data, "K1")[0])
    assert 5 <= len(killed) < 17
    assert json.loads(files(data, "K1")[1].read_text())["completed"] is False
    again = cli(args + ["--resume"])
    # --config is accepted on resume only when it equals the saved one (it does here)
    assert again.returncode == 0, again.stdout + again.stderr
    got = rows(files(data, "K1")[0])
    plan = json.loads(files(data, "K1")[2].read_text())["trials"]
    assert [(int(r["trial"]), r["metamer_id"], int(r["odd_position"])) for r in got] == [
        (t["trial"], t["metamer_id"], t["odd_position"]) for t in plan
    ]
    assert got[: len(killed)] == killed
    side = json.loads(files(data, "K1")[1].read_text())
    assert side["completed"] is True and side["n_trials_done"] == 17 and len(side["runs"]) == 2
    assert side["runs"][1]["first_trial"] == len(killed) + 1
    refused = cli(args + ["--resume"])
    assert refused.returncode == 2 and "already has all 17 trials" in refused.stderr


def test_sigterm_ends_with_everything_saved(
    store_path: Path, cli_popen: Callable, fast_config_text: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "slow.toml"
    cfg.write_text(fast_config_text.replace("iti_ms = 0", "iti_ms = 150"), encoding="utf-8")
    data = tmp_path / "data"
    proc = cli_popen(
        [
            "experiment",
            "--stimuli",
            str(store_path),
            "--participant",
            "T1",
            "--config",
            str(cfg),
            "--data-dir",
            str(data),
            "--simulate",
            "chance",
        ]
    )
    _wait_rows(files(data, "T1")[0], 3, proc)
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=30)
    proc.log.seek(0)  # type: ignore[attr-defined]
    assert rc == 143, proc.log.read()[-3000:]  # type: ignore[attr-defined]
    raw = files(data, "T1")[0].read_text()
    assert raw.endswith("\n")
    got = rows(files(data, "T1")[0])
    side = json.loads(files(data, "T1")[1].read_text())
    assert side["completed"] is False and side["ended"] and side["n_trials_done"] == len(got) >= 3
    assert side["runs"][-1]["end_reason"] == "SIGTERM"


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool not installed (scripts/setup_system.sh)")
def test_real_keys_and_escape(
    store_path: Path, cli_popen: Callable, fast_config_text: str, tmp_path: Path
) -> None:
    """A human session driven by X key events: space starts, no answer is a miss, Escape ends safely."""
    data, cfg = tmp_path / "data", tmp_path / "c.toml"
    cfg.write_text(fast_config_text, encoding="utf-8")
    proc = cli_popen(
        [
            "experiment",
            "--stimuli",
            str(store_path),
            "--participant",
            "H1",
            "--config",
            str(cfg),
            "--data-dir",
            str(data),
        ]
    )
    side_path = files(data, "H1")[1]
    end = time.monotonic() + 60
    while time.monotonic() < end and not (side_path.exists() and json.loads(side_path.read_text())["runs"]):
        time.sleep(0.05)
    time.sleep(0.5)  # instructions on screen
    key = subprocess.run(["xdotool", "key", "space"], capture_output=True, text=True)
    assert key.returncode == 0, key.stderr
    _wait_rows(files(data, "H1")[0], 2, proc)
    subprocess.run(["xdotool", "key", "Escape"], check=True)
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.log.seek(0)  # type: ignore[attr-defined]
        raise AssertionError(proc.log.read()[-3000:]) from None  # type: ignore[attr-defined]
    assert rc == 0
    got = rows(files(data, "H1")[0])
    assert 2 <= len(got) < 17
    assert all(r["response_key"] == "" and r["correct"] == "0" and r["rt"] == "" for r in got)
    side = json.loads(side_path.read_text())
    assert (
        side["completed"] is False and side["runs"][-1]["end_reason"] == "escape" and side["observer"] is None
    )


def test_temporal_mode_with_mask_and_model_observer(
    store_path: Path, cli: Callable, fast_config_text: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "temporal.toml"
    cfg.write_text(
        fast_config_text.replace("[presentation]", "[presentation]\nmode = 'temporal'\nmask_ms = 20")
    )
    data = tmp_path / "data"
    proc = cli(
        [
            "experiment",
            "--stimuli",
            str(store_path),
            "--participant",
            "M1",
            "--config",
            str(cfg),
            "--data-dir",
            str(data),
            "--simulate",
            "model",
            "--screenshot-dir",
            str(tmp_path / "s"),
        ]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = rows(files(data, "M1")[0])
    assert len(got) == 17 and all(r["response_position"] in {"1", "2", "3"} for r in got)
    side = json.loads(files(data, "M1")[1].read_text())
    assert side["observer"] == "model" and side["observer_params"]["sigma"] == 0.05
    assert side["experiment_config"]["presentation"]["mode"] == "temporal"
    shot = np.asarray(Image.open(tmp_path / "s" / "trial-0001.png").convert("RGB")).astype(int)
    non_grey = np.abs(shot - GREY).sum(axis=2) > 30
    cols = np.flatnonzero(non_grey.any(axis=0))
    assert abs((cols[0] + cols[-1]) / 2 - 320) <= 2  # first interval: one image at the centre
