"""The exported bundle in a real headless Chromium against ``mrd serve-online`` (real key events)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from psychophysics.config import load_config
from psychophysics.observers import ModelObserver, OracleObserver, SimilarityTable
from psychophysics.online.participant import SimulatedParticipant, TrialSeededObserver
from stimuli import StimulusSet

REPO = Path(__file__).resolve().parents[2]
KEYS = {"positions": [["1"], ["2"], ["3"]], "proceed": ["space"]}


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def open_page(browser: Any, base: str, pid: str) -> None:
    browser.goto(f"{base}index.html?participant={pid}&session=1")


def participant_keys(bundle: Path, pid: str) -> dict[str, Any]:
    from psychophysics.online.bundle import plan_path, read_data_file

    plan = read_data_file(plan_path(bundle, pid, 1))
    return {"positions": [plan["keys"][f"position_{i}"] for i in (1, 2, 3)], "proceed": ["space"]}


def test_oracle_in_chromium_every_trial_once_all_correct_and_analysed(
    bundle: Path, store_path: Path, config_path: Path, serve: Any, browser: Any, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = serve(bundle, data)
    base = server.start()
    open_page(browser, base, "P01")
    sp = SimulatedParticipant(browser, OracleObserver(), participant_keys(bundle, "P01"), np.random.default_rng(0))
    final = sp.run(timeout=90)
    assert final["info"]["sent"] is True and final["transport"]["pending"] == 0, final
    assert browser.console_errors() == []
    # the lab's texts: instructions with this participant's keys, breaks with the running accuracy
    assert "Press the key for the odd one out" in sp.messages[0] and "1: left" in sp.messages[0]
    assert "Practice is over" in sp.messages[1]
    assert any("Break: block 1 of" in m and "Accuracy so far: 100 %" in m for m in sp.messages[2:])

    got = rows(data / "sub-P01_ses-1_trials.csv")
    side = json.loads((data / "sub-P01_ses-1_session.json").read_text())
    plan = json.loads((data / "sub-P01_ses-1_plan.json").read_text())
    # the same plan file as the lab session writes (its own preparation step)
    from psychophysics.preparation import prepare

    prep = prepare(store_path, "P01", 1, config_path, tmp_path / "lab", uses_psychopy=False)
    prep.store.close()
    assert plan == prep.files.read_plan()
    lab = plan["trials"]
    with StimulusSet(store_path) as s:
        digest = s.digest
    # every trial on disk exactly once, in plan order, all correct, the pressed key is the position's
    assert [int(r["trial"]) for r in got] == [t["trial"] for t in lab]
    assert all(r["correct"] == "1" for r in got)
    assert all(int(r["response_position"]) == int(r["odd_position"]) for r in got)
    assert {r["response_key"] for r in got} <= {"1", "2", "3"}
    assert all(0 < float(r["rt"]) < 2.5 for r in got)
    assert side["stimulus_digest"] == plan["stimulus_digest"] == digest
    assert side["completed"] is True and side["n_trials_done"] == len(lab) == side["n_trials_planned"]
    assert 20 < side["frame_rate_hz"] < 500 and side["durations_frames"]["stimulus"] >= 1
    assert side["monitor"]["calibration"]["method"] == "card"
    # the simulated participant sized the card for 3.78 px/mm: px/deg follows PsychoPy's conversion
    cal = side["monitor"]["calibration"]
    assert abs(cal["px_per_mm"] - 3.78) < 3 / 85.6  # the card within 3 px (mouse positions are whole pixels)
    assert abs(cal["px_per_deg"] - 57.0 * 0.017455 * cal["px_per_mm"] * 10) < 1e-6
    # nothing was fetched from anywhere but the collection server (no CDN)
    urls = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    assert urls and all(u.startswith((base, "data:", "blob:")) for u in urls), [u for u in urls if not u.startswith(base)]

    from analysis.api import analyze

    res = analyze(stimuli=store_path, data=data, out=tmp_path / "report", n_boot=20, progress=False, run_mixed=False)
    assert (tmp_path / "report" / "report.html").exists()
    assert res.trials["correct"].all() and len(res.trials) == len(lab)


def _reference_session(store_path: Path, config_path: Path, data: Path, home: Path) -> Path:
    """The lab session (PsychoPy, under the X display) with the trial-seeded model observer."""
    script = (
        "import sys\n"
        "from psychophysics.config import load_config\n"
        "from psychophysics.observers import make_observer\n"
        "from psychophysics.online.participant import TrialSeededObserver\n"
        "from psychophysics.preparation import prepare\n"
        "from psychophysics.session import OdditySession\n"
        "store, cfg, data = sys.argv[1:4]\n"
        "prep = prepare(store, 'P03', 1, cfg, data, observer='model-trial-seeded')\n"
        "obs = TrialSeededObserver(make_observer('model', prep.config, prep.store), seed=7)\n"
        "try:\n"
        "    n, reason = OdditySession(prep, observer=obs).run()\n"
        "finally:\n"
        "    prep.store.close()\n"
        "print(n, reason)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(store_path), str(config_path), str(data)],
                          capture_output=True, text=True, timeout=240, cwd=REPO,
                          env={**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return data / "sub-P03_ses-1_trials.csv"


@pytest.mark.display
def test_same_plan_and_observer_give_the_lab_sessions_responses(
    bundle: Path, store_path: Path, config_path: Path, serve: Any, browser: Any, tmp_path: Path
) -> None:
    if not os.environ.get("DISPLAY"):
        pytest.skip("no X display for the PsychoPy reference session (run under xvfb-run, as `make test` does)")
    lab = rows(_reference_session(store_path, config_path, tmp_path / "lab", tmp_path / "home"))

    data = tmp_path / "web"
    server = serve(bundle, data)
    base = server.start()
    with StimulusSet(store_path) as s:
        obs = TrialSeededObserver(ModelObserver(SimilarityTable.from_store(s), load_config(config_path).observers.model), 7)
    open_page(browser, base, "P03")
    sp = SimulatedParticipant(browser, obs, participant_keys(bundle, "P03"), np.random.default_rng(12345))
    sp.run(timeout=90)
    web = rows(data / "sub-P03_ses-1_trials.csv")

    def answers(rs: list[dict[str, str]]) -> list[tuple[str, ...]]:
        return [(r["trial"], r["metamer_id"], r["odd_position"], r["response_key"], r["response_position"], r["correct"])
                for r in rs]

    assert answers(web) == answers(lab)
    assert 0 < sum(int(r["correct"]) for r in web) < len(web)  # a real observer: right and wrong answers


def test_server_killed_mid_session_loses_nothing_and_the_participant_continues(
    bundle: Path, serve: Any, browser: Any, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = serve(bundle, data)
    base = server.start()
    csv_path = data / "sub-P02_ses-1_trials.csv"
    open_page(browser, base, "P02")
    sp = SimulatedParticipant(browser, OracleObserver(), participant_keys(bundle, "P02"), np.random.default_rng(0))

    def at_message_after(n: int, drained: bool) -> Any:  # a message waits for the proceed key: a safe pause
        return lambda s, p: (s["stage"] == "message" and len(p.answers) >= n
                             and (s["transport"]["pending"] == 0 or not drained))

    sp.run(pause=at_message_after(3, drained=True), timeout=60)  # practice done and acknowledged
    server.kill()  # SIGKILL: no chance to flush anything
    assert [int(r["trial"]) for r in rows(csv_path)] == [1, 2, 3]  # every acknowledged trial survived

    sp.run(pause=at_message_after(8, drained=False), timeout=60)  # main block 1 answered with the server down
    assert sp.snapshot()["transport"]["pending"] >= 5  # kept in the browser, retried
    assert len(rows(csv_path)) == 3

    server.start()  # same port, same data folder: the queue drains
    deadline = time.monotonic() + 30
    while sp.snapshot()["transport"]["pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [int(r["trial"]) for r in rows(csv_path)] == list(range(1, 9))

    browser.reload()  # the participant reloads the page: it continues at the next unfinished trial
    sp2 = SimulatedParticipant(browser, OracleObserver(), participant_keys(bundle, "P02"), np.random.default_rng(0))
    final = sp2.run(timeout=90)
    assert final["info"]["sent"] is True
    assert sp2.answers[0].trial == 9
    got = rows(csv_path)
    plan = json.loads((data / "sub-P02_ses-1_plan.json").read_text())
    assert [int(r["trial"]) for r in got] == [t["trial"] for t in plan["trials"]]
    assert all(r["correct"] == "1" for r in got)
    side = json.loads((data / "sub-P02_ses-1_session.json").read_text())
    assert side["completed"] is True and len(side["runs"]) == 2 and side["runs"][1]["first_trial"] == 9


class StaticServer:
    """A plain static file server (``python -m http.server``): no collection endpoint."""

    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"], cwd=root,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
        self.url = f"http://127.0.0.1:{int(line.split(' port ')[1].split()[0])}/"

    def __enter__(self) -> StaticServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


FAKE_JATOS = """window.jatos = { urlQueryParameters: { participant: "J01", session: "1" }, lines: [], ended: false,
  onLoad(cb) { setTimeout(cb, 10); }, appendResultData(s) { this.lines.push(s); return Promise.resolve(); },
  endStudy() { this.ended = true; } };
"""


def test_jatos_result_data_import_into_the_contract(
    store_path: Path, config_path: Path, browser: Any, tmp_path: Path, need_jspsych: None
) -> None:
    from psychophysics.online.bundle import export_bundle
    from psychophysics.online.importer import import_files

    # with a practice criterion: round 2 of the practice runs only if round 1 missed it (here: never)
    cfg = tmp_path / "criterion.toml"
    cfg.write_text(config_path.read_text().replace("[design]\n", "[design]\npractice_criterion = 0.5\npractice_max_rounds = 2\n"))
    web = tmp_path / "web"
    export_bundle(store_path, web, ["J01"], cfg, endpoint="jatos", calibration="card", progress=False)
    assert '<script src="jatos.js"></script>' in (web / "index.html").read_text()
    (web / "jatos.js").write_text(FAKE_JATOS)  # stands in for the file JATOS serves
    with StaticServer(web) as static:
        browser.goto(f"{static.url}index.html")  # the id comes from jatos.urlQueryParameters
        sp = SimulatedParticipant(browser, OracleObserver(), participant_keys(web, "J01"), np.random.default_rng(0))
        sp.run(timeout=90)
        lines = browser.evaluate("window.jatos.lines.join('')")
        assert browser.evaluate("window.jatos.ended") is True
    result = tmp_path / "study_result_7.txt"
    result.write_text(lines)
    data = tmp_path / "data"
    done = import_files([result], web, data, stimuli_path=store_path)
    plan = json.loads((data / "sub-J01_ses-1_plan.json").read_text())
    expected = [t["trial"] for t in plan["trials"] if t["practice_round"] != 2]
    assert len(expected) < len(plan["trials"])  # the plan holds a second practice round
    assert [a.trial for a in sp.answers] == expected  # the browser skipped it
    assert done[("J01", 1)] == (len(expected), len(expected), True)  # and the importer agrees: complete
    side = json.loads((data / "sub-J01_ses-1_session.json").read_text())
    assert side["frame_rate_hz"] > 0 and side["monitor"]["calibration"]["method"] == "card"


def test_unreachable_endpoint_offers_a_download_that_imports(
    bundle: Path, store_path: Path, browser: Any, tmp_path: Path
) -> None:
    with StaticServer(bundle) as static:
        open_page(browser, static.url, "P04")
        sp = SimulatedParticipant(browser, OracleObserver(), participant_keys(bundle, "P04"), np.random.default_rng(0))
        final = sp.run(timeout=90)
        assert final["info"]["sent"] is False and final["dom"]["download"] is True
        browser.click("#mrd-download")
        target = tmp_path / "downloads" / "sub-P04_ses-1_jspsych.json"
        deadline = time.monotonic() + 15
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert target.exists()

    from psychophysics.online.importer import import_files

    data = tmp_path / "data"
    done = import_files([target], bundle, data, stimuli_path=store_path)
    plan = json.loads((data / "sub-P04_ses-1_plan.json").read_text())
    assert done[("P04", 1)] == (len(plan["trials"]), len(plan["trials"]), True)
    got = rows(data / "sub-P04_ses-1_trials.csv")
    assert [int(r["trial"]) for r in got] == [t["trial"] for t in plan["trials"]]
    assert all(r["correct"] == "1" for r in got)
    assert import_files([target], bundle, data)[("P04", 1)][0] == 0  # importing again adds nothing


def test_virtual_chinrest_escape_and_reload_without_recalibrating(
    store_path: Path, config_path: Path, serve: Any, browser: Any, tmp_path: Path, need_jspsych: None
) -> None:
    from psychophysics.online.bundle import export_bundle

    web = tmp_path / "web"
    export_bundle(store_path, web, ["C01"], config_path, calibration="chinrest", blindspot_reps=2, progress=False)
    data = tmp_path / "data"
    base = serve(web, data).start()
    open_page(browser, base, "C01")
    sp = SimulatedParticipant(browser, OracleObserver(), participant_keys(web, "C01"), np.random.default_rng(0),
                              px_per_mm=4.0, blindspot_wait_s=0.4)
    sp.run(pause=lambda s, p: s["stage"] == "trial" and s["info"].get("trial") == 5, timeout=90)
    # Escape: in fullscreen the browser keeps the first press (it leaves fullscreen), the second quits
    browser.key("escape")
    time.sleep(0.1)
    browser.key("escape")
    final = sp.run(timeout=30)
    assert final["info"]["reason"] == "escape" and final["dom"]["download"] is True
    side = json.loads((data / "sub-C01_ses-1_session.json").read_text())
    assert side["runs"][0]["end_reason"] == "escape" and side["completed"] is False
    assert [int(r["trial"]) for r in rows(data / "sub-C01_ses-1_trials.csv")] == [1, 2, 3, 4]
    browser.reload()  # continues at trial 5 without calibrating again (kept in the browser)
    sp2 = SimulatedParticipant(browser, OracleObserver(), participant_keys(web, "C01"), np.random.default_rng(0))
    sp2.run(timeout=90)
    assert sp2.answers[0].trial == 5 and "calibration" not in sp2.stages
    cal = json.loads((data / "sub-C01_ses-1_session.json").read_text())["monitor"]["calibration"]
    assert cal["method"] == "chinrest" and abs(cal["px_per_mm"] - 4.0) < 3 / 85.6
    # the distance comes from the blind spot (13.5 deg from fixation), not from the config's 57 cm
    assert 1 < cal["viewing_distance_cm"] < 500 and cal["viewing_distance_cm"] != 57
    assert abs(cal["px_per_deg"] - cal["viewing_distance_cm"] * 0.017455 * cal["px_per_mm"] * 10) < 1e-6
    assert all(r["correct"] == "1" for r in rows(data / "sub-C01_ses-1_trials.csv"))


def test_cli_simulate_online_writes_complete_sessions(bundle: Path, store_path: Path, tmp_path: Path,
                                                      need_chromium: str, capsys: pytest.CaptureFixture[str]) -> None:
    from mrd.cli import main

    data = tmp_path / "data"
    assert main(["simulate-online", str(bundle), "--data-dir", str(data), "--observer", "chance",
                 "--participants", "P06", "--stimuli", str(store_path), "--seed", "3"]) == 0
    assert "P06:" in capsys.readouterr().out
    side = json.loads((data / "sub-P06_ses-1_session.json").read_text())
    assert side["completed"] is True and side["n_trials_done"] == side["n_trials_planned"]
    got = rows(data / "sub-P06_ses-1_trials.csv")
    assert {r["response_position"] for r in got} <= {"1", "2", "3"} and len({r["response_position"] for r in got}) > 1
