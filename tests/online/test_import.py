"""``mrd import-online``: jsPsych data from other hosts (JATOS JSON lines, Pavlovia CSV) into the contract."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from psychophysics.online.bundle import plan_path, read_data_file, read_manifest
from psychophysics.online.importer import import_files
from stimuli.errors import MRDError


def browser_rows(bundle: Path, pid: str, n: int | None = None) -> list[dict[str, Any]]:
    """What the task records for an oracle participant (the fields its plugin writes)."""
    plan = read_data_file(plan_path(bundle, pid, 1))
    digest = read_manifest(bundle)["stimulus_digest"]
    out = []
    for t in plan["trials"][:n]:
        pos = t["odd_position"]
        out.append({**{k: v for k, v in t.items() if k != "images"}, "participant": pid, "session": 1,
                    "response_key": plan["keys"][f"position_{pos}"][0], "response_position": pos, "correct": 1,
                    "rt": 0.61, "frame_interval_mean_ms": 16.68, "frame_interval_sd_ms": 0.3, "dropped_frames": 0,
                    "timestamp": "2026-03-04T10:00:00.000Z", "stimulus_frames": 2, "stimulus_frames_measured": 2,
                    "stimulus_ms_measured": 33.4, "mrd": "trial", "stimulus_digest": digest, "run_id": "abc"})
    return out


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_jatos_lines_and_pavlovia_csv_give_the_same_session(bundle: Path, store_path: Path, tmp_path: Path) -> None:
    recs = browser_rows(bundle, "P05")
    # JATOS: the task appends one JSON line per message (jatos.appendResultData)
    jatos = tmp_path / "study_result_1.txt"
    jatos.write_text("".join(json.dumps({"mrd_message": "trial", **r}) + "\n" for r in recs[:7]))
    # Pavlovia: jsPsych's data.csv(); jsPsych puts its plugin name into trial_type and adds its own columns
    pav = tmp_path / "P05_oddity.csv"
    cols = ["trial_type", "trial_index", "time_elapsed", "internal_node_id", *[k for k in recs[0] if k != "trial_type"]]
    with open(pav, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for i, r in enumerate(recs):
            w.writerow({**{k: ("" if v is None else v) for k, v in r.items()}, "trial_type": "mrd-oddity",
                        "trial_index": i + 5, "time_elapsed": 1000 * i, "internal_node_id": f"0.0-{i}"})
    data = tmp_path / "data"
    first = import_files([jatos], bundle, data, stimuli_path=store_path)
    assert first[("P05", 1)] == (7, 7, False)
    second = import_files([pav], bundle, data)  # the whole session: only the missing trials are added
    assert second[("P05", 1)] == (len(recs) - 7, len(recs), True)
    got = rows(data / "sub-P05_ses-1_trials.csv")
    assert [int(r["trial"]) for r in got] == [r["trial"] for r in recs]
    assert [r["trial_type"] for r in got] == [r["trial_type"] for r in recs]  # the plan's, not jsPsych's
    assert all(r["correct"] == "1" and r["rt"] == "0.61" for r in got)
    side = json.loads((data / "sub-P05_ses-1_session.json").read_text())
    assert side["completed"] is True and side["stimulus_digest"] == read_manifest(bundle)["stimulus_digest"]
    assert import_files([pav, jatos], bundle, data)[("P05", 1)][0] == 0


def test_bad_data_are_refused_naming_file_trial_and_field(bundle: Path, store_path: Path, tmp_path: Path) -> None:
    recs = browser_rows(bundle, "P06", 4)
    data = tmp_path / "data"

    def write(name: str, records: list[dict[str, Any]]) -> Path:
        p = tmp_path / name
        p.write_text(json.dumps(records))
        return p

    with pytest.raises(MRDError, match=r"foreign\.json: record 1 \(trial 1\): stimulus_digest"):
        import_files([write("foreign.json", [{**recs[0], "stimulus_digest": "f" * 64}])], bundle, data)
    with pytest.raises(MRDError, match=r"trial 2: odd_position"):
        tampered = [recs[0], {**recs[1], "odd_position": recs[1]["odd_position"] % 3 + 1}]
        import_files([write("tampered.json", tampered)], bundle, data)
    with pytest.raises(MRDError, match=r"trial 3: trial: 3 arrived, but the plan expects trial 2"):
        import_files([write("gap.json", [recs[2]])], bundle, data)
    with pytest.raises(MRDError, match="no trials of the oddity task"):
        import_files([write("other.json", [{"trial_type": "html-keyboard-response", "rt": 300}])], bundle, data)
    with pytest.raises(MRDError, match="not JSON"):
        (tmp_path / "junk.json").write_text("[1, 2\n{")
        import_files([tmp_path / "junk.json"], bundle, data)
    other = tmp_path / "other.h5"
    from storebuild import build_store

    build_store(other, n_scenes=1, per_scene=1)
    with pytest.raises(MRDError, match="collected with other stimuli"):
        import_files([write("ok.json", recs)], bundle, data, stimuli_path=other)
    # what was valid before a fault stays; nothing outside the data folder
    assert [int(r["trial"]) for r in rows(data / "sub-P06_ses-1_trials.csv")] == [1]


def test_cli_import(bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mrd.cli import main

    f = tmp_path / "d.json"
    f.write_text(json.dumps(browser_rows(bundle, "P04", 3)))
    assert main(["import-online", str(f), "--bundle", str(bundle), "--data-dir", str(tmp_path / "data")]) == 0
    assert "sub-P04_ses-1: 3 trials added, 3 on disk (incomplete)" in capsys.readouterr().out
    assert main(["import-online", str(tmp_path / "missing.json"), "--bundle", str(bundle),
                 "--data-dir", str(tmp_path / "data")]) == 2
