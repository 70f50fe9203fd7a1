"""The real PsychoPy session under Xvfb, run in subprocesses (so crashes and kills cannot hit pytest).

Without an X display these tests skip, except in CI (``CI=true``), where they fail: `make test` runs
them under Xvfb (scripts/with_display.sh), so a missing display there is a set-up fault, not a reason
to pass.
"""

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

pytestmark = pytest.mark.display
GREY = np.array([128, 128, 128])  # PsychoPy rgb (0, 0, 0)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True, scope="module")
def _display() -> None:
    if not os.environ.get("DISPLAY"):
        if _in_ci():
            pytest.fail("CI: no X display for the PsychoPy tests; run them under Xvfb (make test does)")
        pytest.skip("no X display: PsychoPy windows need one (run under xvfb-run, as `make test` does)")


def _needs(tool: str) -> None:
    if shutil.which(tool) is None:
        if _in_ci():
            pytest.fail(f"CI: {tool} is not installed (scripts/setup_system.sh installs it)")
        pytest.skip(f"{tool} not installed (scripts/setup_system.sh)")


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def files(data: Path, pid: str) -> tuple[Path, Path, Path]:
    return (
        data / f"sub-{pid}_ses-1_trials.csv",
        data / f"sub-{pid}_ses-1_session.json",
        data / f"sub-{pid}_ses-1_plan.json",
    )


def experiment(store: Path, pid: str, cfg: Path, data: Path, *extra: str) -> list[str]:
    return ["experiment", "--stimuli", str(store), "--participant", pid, "--config", str(cfg),
            "--data-dir", str(data), *extra]  # fmt: skip


@pytest.fixture(scope="module")
def oracle_run(
    store_path: Path, cli: Callable, fast_config_text: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    root = tmp_path_factory.mktemp("oracle")
    cfg = root / "fast.toml"
    cfg.write_text(fast_config_text, encoding="utf-8")
    proc = cli(experiment(store_path, "P01", cfg, root / "data", "--simulate", "oracle",
                          "--screenshot-dir", str(root / "shots")))  # fmt: skip
    return {"proc": proc, "data": root / "data", "shots": root / "shots"}


def test_oracle_session_all_correct_with_store_digest(oracle_run: dict, store_path: Path) -> None:
    proc = oracle_run["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    csv_path, side_path, plan_path = files(oracle_run["data"], "P01")
    plan, side, got = json.loads(plan_path.read_text()), json.loads(side_path.read_text()), rows(csv_path)
    # 2 main metamers (s0_shp is the practice item, s1_bad unsuccessful) x 2 views x 2 odd items + 2 catch, 3 practice
    assert len(got) == len(plan["trials"]) == side["n_trials_planned"] == side["n_trials_done"] == 13
    assert [int(r["trial"]) for r in got] == list(range(1, 14))
    assert all(r["correct"] == "1" and r["response_position"] == r["odd_position"] for r in got)
    assert all(0 < float(r["rt"]) < 5 for r in got)
    assert {r["block_type"] for r in got} == {"practice", "main"} and sum(r["is_catch"] == "1" for r in got) == 2
    assert "s1_bad" not in {r["metamer_id"] for r in got} and "1 of 4 metamers left out" in proc.stdout
    assert side["selection"]["unsuccessful"] == 1
    for r in got:
        assert r["frame_interval_mean_ms"] and r["dropped_frames"]
        assert len({r["render_1"], r["render_2"], r["render_3"]} - {""}) >= 2 and r["trial_type"] in ("metamer", "catch")
        assert int(r["stimulus_frames"]) >= 1 and int(r["stimulus_frames_measured"]) >= 1
        assert float(r["stimulus_ms_measured"]) > 0
    with StimulusSet(store_path) as s:
        assert side["stimulus_digest"] == s.digest
    assert side["completed"] is True and side["ended"] and side["observer"] == "oracle"
    assert side["frame_rate_hz"] > 0 and side["versions"]["psychopy"] and side["monitor"]["distance_cm"] == 57.0
    assert Path(side["stimulus_set"]) == store_path.resolve()
    run = side["runs"][-1]
    assert run["end_reason"] == "completed" and run["fullscreen"] is False  # simulated: windowed by default
    assert side["keyboard"]["backend"] == "psychopy.event" and "simulated observer" in side["keyboard"]["reason"]
    assert side["calibration"]["linear_correct"] is False and "no display calibration" in side["calibration"]["statement"]
    # Xvfb does not synchronise flips: the warning fires (stderr and sidecar), as docs/experiment.md says
    assert "flips are not synchronised" in proc.stderr and "flips are not synchronised" in run["timing_warning"]


def test_screenshot_shows_three_images_at_whole_pixels(oracle_run: dict, store_path: Path) -> None:
    shot = np.asarray(Image.open(oracle_run["shots"] / "trial-0001.png").convert("RGB"))
    assert shot.shape == (480, 640, 3)
    side = json.loads(files(oracle_run["data"], "P01")[1].read_text())
    lay = side["runs"][-1]["layout"]
    # independent of PsychoPy: 640 px over 30 cm at 57 cm; 4 deg wanted of a 32 px image
    ppd = 640 / 30.0 * 57.0 * math.tan(math.radians(1.0))
    assert lay["scale"] == round(4.0 * ppd / 32) and lay["image_px"] == [32 * lay["scale"]] * 2
    assert [x for x, _ in lay["top_left"]] == [(640 - 32 * lay["scale"]) // 2 + k * round(6 * ppd) for k in (-1, 0, 1)]
    plan = json.loads(files(oracle_run["data"], "P01")[2].read_text())
    trial = Trial.from_dict(plan["trials"][0])
    with StimulusSet(store_path) as s:
        expected = TrialImages(s, scale=lay["scale"]).shown(trial)
    w, h = lay["image_px"]
    for (x, y), img in zip(lay["top_left"], expected, strict=True):
        assert np.array_equal(shot[y : y + h, x : x + w], img)


def test_screen_grab_equals_the_stored_renders_at_every_position(
    store_path: Path, cli_popen: Callable, tmp_path: Path
) -> None:
    """What is on the screen (the X server's pixels, not PsychoPy's buffer) is the stored render, pixel
    for pixel, enlarged by the configured whole-number scale, at all three positions (full screen)."""
    from PIL import ImageGrab

    display = os.environ["DISPLAY"]
    screen = ImageGrab.grab(xdisplay=display)
    cfg = tmp_path / "grab.toml"
    cfg.write_text(
        "[presentation]\nstimulus_ms = 2500\nfixation_ms = 200\nresponse_window_ms = 300\niti_ms = 0\n"
        "image_scale = 3\nspacing_deg = 5.0\nimage_size_deg = 2.0\n"
        "[design]\npractice_trials = 0\nviews = [1]\nodd_items = ['metamer']\n"
        f"[monitor]\nresolution = [{screen.width}, {screen.height}]\nwidth_cm = 40.0\ndistance_cm = 57.0\n",
        encoding="utf-8",
    )
    data = tmp_path / "data"
    proc = cli_popen(experiment(store_path, "G1", cfg, data, "--simulate", "oracle", "--fullscreen"))
    side_path = files(data, "G1")[1]
    grabs: list[np.ndarray] = []
    end = time.monotonic() + 90
    while time.monotonic() < end and proc.poll() is None and len(grabs) < 80:
        if side_path.exists() and json.loads(side_path.read_text())["runs"]:
            grabs.append(np.asarray(ImageGrab.grab(xdisplay=display).convert("RGB")))
            time.sleep(0.15)
        else:
            time.sleep(0.05)
    proc.wait(timeout=60)
    proc.log.seek(0)  # type: ignore[attr-defined]
    assert proc.returncode == 0, proc.log.read()[-3000:]  # type: ignore[attr-defined]
    side = json.loads(side_path.read_text())
    lay = side["runs"][-1]["layout"]
    assert side["runs"][-1]["fullscreen"] is True and lay["window_px"] == [screen.width, screen.height]
    plan = [Trial.from_dict(t) for t in json.loads(files(data, "G1")[2].read_text())["trials"]]
    with StimulusSet(store_path) as s:
        expected = {t.trial: TrialImages(s, scale=3).shown(t) for t in plan}
    w, h = lay["image_px"]
    assert (w, h) == (96, 96)
    matched = set()
    for g in grabs:
        crops = [g[y : y + h, x : x + w] for x, y in lay["top_left"]]
        for n, imgs in expected.items():
            if all(np.array_equal(c, e) for c, e in zip(crops, imgs, strict=True)):
                matched.add(n)
    assert matched, "no screen grab showed a planned trial's three renders pixel for pixel"
    # the images differ between positions (three different renders), and the grab saw more than one trial
    t = plan[min(matched) - 1]
    assert len(set(t.renders)) >= 2 and len(matched) >= 2


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
    args = experiment(store_path, "K1", cfg, data, "--simulate", "oracle")
    proc = cli_popen(args)
    _wait_rows(files(data, "K1")[0], 5, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    killed = rows(files(data, "K1")[0])
    assert 5 <= len(killed) < 13
    assert json.loads(files(data, "K1")[1].read_text())["completed"] is False
    again = cli(args + ["--resume"])
    # --config is accepted on resume only when it equals the saved one (it does here)
    assert again.returncode == 0, again.stdout + again.stderr
    got = rows(files(data, "K1")[0])
    plan = json.loads(files(data, "K1")[2].read_text())["trials"]
    assert [(int(r["trial"]), r["metamer_id"], int(r["odd_position"]), r["render_1"]) for r in got] == [
        (t["trial"], t["metamer_id"], t["odd_position"], str(t["render_1"])) for t in plan
    ]
    assert got[: len(killed)] == killed
    side = json.loads(files(data, "K1")[1].read_text())
    assert side["completed"] is True and side["n_trials_done"] == 13 and len(side["runs"]) == 2
    assert side["runs"][1]["first_trial"] == len(killed) + 1
    refused = cli(args + ["--resume"])
    assert refused.returncode == 2 and "already has all 13 trials" in refused.stderr


def test_sigterm_ends_with_everything_saved(
    store_path: Path, cli_popen: Callable, fast_config_text: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "slow.toml"
    cfg.write_text(fast_config_text.replace("iti_ms = 0", "iti_ms = 150"), encoding="utf-8")
    data = tmp_path / "data"
    proc = cli_popen(experiment(store_path, "T1", cfg, data, "--simulate", "chance"))
    _wait_rows(files(data, "T1")[0], 3, proc)
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=30)
    proc.log.seek(0)  # type: ignore[attr-defined]
    assert rc == 143, proc.log.read()[-3000:]  # type: ignore[attr-defined]
    assert files(data, "T1")[0].read_text().endswith("\n")
    got = rows(files(data, "T1")[0])
    side = json.loads(files(data, "T1")[1].read_text())
    assert side["completed"] is False and side["ended"] and side["n_trials_done"] == len(got) >= 3
    assert side["runs"][-1]["end_reason"] == "SIGTERM"


def test_a_crash_is_recorded_as_an_error_not_completed(
    store_path: Path, cli_popen: Callable, fast_config_text: str, tmp_path: Path
) -> None:
    """The screenshot folder turns into a file mid-session: the run stops with a clear message, the rows
    done are kept, and the sidecar says why (never "completed")."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(fast_config_text.replace("iti_ms = 0", "iti_ms = 150"), encoding="utf-8")
    data, shots = tmp_path / "data", tmp_path / "shots"
    proc = cli_popen(experiment(store_path, "C1", cfg, data, "--simulate", "oracle", "--screenshot-dir", str(shots)))
    _wait_rows(files(data, "C1")[0], 2, proc)
    shutil.rmtree(shots)
    shots.write_text("now a file")
    rc = proc.wait(timeout=60)
    proc.log.seek(0)  # type: ignore[attr-defined]
    log = proc.log.read()  # type: ignore[attr-defined]
    assert rc == 2 and "stopped by an unexpected error" in log and "--resume" in log and "Traceback" not in log, log
    side = json.loads(files(data, "C1")[1].read_text())
    got = rows(files(data, "C1")[0])
    assert side["completed"] is False and side["n_trials_done"] == len(got) >= 2
    assert side["runs"][-1]["end_reason"].startswith("error: ")


def test_real_keys_numpad_and_escape_asks_first(
    store_path: Path, cli_popen: Callable, fast_config_text: str, tmp_path: Path
) -> None:
    """A human session driven by X key events through PsychoPy's Keyboard: space starts, numpad keys
    answer, Escape asks for confirmation (space continues), Escape twice ends safely."""
    _needs("xdotool")
    data, cfg = tmp_path / "data", tmp_path / "c.toml"
    cfg.write_text(fast_config_text.replace("response_window_ms = 400", "response_window_ms = 1500"), encoding="utf-8")
    proc = cli_popen(experiment(store_path, "H1", cfg, data, "--windowed"))
    side_path = files(data, "H1")[1]

    def key(*names: str) -> None:
        out = subprocess.run(["xdotool", "key", *names], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr

    csv_path = files(data, "H1")[0]

    def n_rows() -> int:
        return csv_path.read_bytes().count(b"\n") - 1 if csv_path.exists() else 0

    def until(done: Callable[[], bool], *names: str, every: float = 0.5, timeout: float = 90) -> None:
        end = time.monotonic() + timeout
        while not done():
            if time.monotonic() > end or proc.poll() is not None and not done():
                proc.kill()
                proc.log.seek(0)  # type: ignore[attr-defined]
                raise AssertionError(f"waited in vain pressing {names}: {proc.log.read()[-3000:]}")  # type: ignore[attr-defined]
            key(*names)
            time.sleep(every)

    # space leaves the instructions (pressed until the first trial is done: a space in a trial does nothing)
    until(lambda: n_rows() >= 1, "space", "KP_2")
    until(lambda: n_rows() >= 2, "KP_2", every=0.4)
    time.sleep(0.3)
    n = n_rows()
    key("Escape")
    time.sleep(4.0)  # a trial takes < 2 s: without the confirmation screen, rows would have been written
    assert proc.poll() is None and n_rows() <= n + 1  # one Escape only asks (the trial under way may end first)
    n = n_rows()
    until(lambda: n_rows() > n, "space")  # "continue": the session goes on
    until(lambda: proc.poll() is not None, "Escape", every=0.7, timeout=30)  # Escape twice ends the run
    rc = proc.wait(timeout=30)
    assert rc == 0
    got = rows(files(data, "H1")[0])
    assert n < len(got) < 13
    answered = [r for r in got if r["response_key"]]
    assert answered and all(r["response_key"] == "num_2" and r["response_position"] == "2" for r in answered)
    assert all(0 < float(r["rt"]) < 3 for r in answered)
    side = json.loads(side_path.read_text())
    assert side["completed"] is False and side["runs"][-1]["end_reason"] == "escape" and side["observer"] is None
    from psychopy.hardware import keyboard  # noqa: F401  (only to know which backend to expect)

    expected = "psychtoolbox" if keyboard.havePTB else "psychopy.event"
    assert expected in side["keyboard"]["backend"], side["keyboard"]


def test_temporal_mode_with_mask_and_model_observer(
    store_path: Path, cli: Callable, fast_config_text: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "temporal.toml"
    cfg.write_text(
        fast_config_text.replace("[presentation]", "[presentation]\nmode = 'temporal'\nmask_ms = 20")
        .replace("[design]", "[design]\nnoise_floor_trials = 3\npractice_source = 'catch'")
    )
    data = tmp_path / "data"
    proc = cli(experiment(store_path, "M1", cfg, data, "--simulate", "model", "--screenshot-dir", str(tmp_path / "s")))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = rows(files(data, "M1")[0])
    # practice on catch trials: all 3 successful metamers x 2 views x 2 odd items + 2 catch + 3 noise floor
    assert len(got) == 3 + 12 + 2 + 3 and all(r["response_position"] in {"1", "2", "3"} for r in got)
    assert sum(r["trial_type"] == "noise_floor" for r in got) == 3
    assert all(int(r["stimulus_frames"]) == 3 * int(json.loads(files(data, "M1")[1].read_text())["durations_frames"]["stimulus"]) for r in got)
    side = json.loads(files(data, "M1")[1].read_text())
    assert side["observer"] == "model" and side["observer_params"]["sigma"] == 0.05
    assert side["experiment_config"]["presentation"]["mode"] == "temporal"
    shot = np.asarray(Image.open(tmp_path / "s" / "trial-0001.png").convert("RGB")).astype(int)
    non_grey = np.abs(shot - GREY).sum(axis=2) > 30
    cols = np.flatnonzero(non_grey.any(axis=0))
    assert abs((cols[0] + cols[-1]) / 2 - 320) <= 2  # first interval: one image at the centre


def test_gui_dialog_asks_again_on_an_invalid_id(psy_home: Path, tmp_path: Path) -> None:
    """The participant dialog (real Qt under Xvfb, typed into with xdotool): an invalid id asks again."""
    _needs("xdotool")
    import sys

    code = "from psychophysics.session import ask_participant; print('RESULT', *ask_participant(None, 1), flush=True)"
    env = {**os.environ, "HOME": str(psy_home), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for typed in ("../x", "P07"):
            window = ""
            end = time.monotonic() + 60
            while not window and time.monotonic() < end:
                found = subprocess.run(["xdotool", "search", "--name", "MRD oddity"], capture_output=True, text=True)
                window = found.stdout.split()[-1] if found.stdout.split() else ""
                time.sleep(0.3)
            assert window, "no dialog window"
            subprocess.run(["xdotool", "windowfocus", "--sync", window], check=False)
            time.sleep(0.5)
            subprocess.run(["xdotool", "key", "ctrl+a"], check=True)
            subprocess.run(["xdotool", "type", "--delay", "40", typed], check=True)
            time.sleep(0.3)
            subprocess.run(["xdotool", "key", "Return"], check=True)
            time.sleep(1.5)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "RESULT P07 1" in out, out + err
    assert "participant id '../x' is invalid" in err and "asking again" in err
