"""Session files: ids, never-overwrite, fsync'd rows, crash repair on resume."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from psychophysics.datafile import COLUMNS, SessionFiles, check_participant, trial_row
from psychophysics.design import Trial
from stimuli.errors import MRDError

CONTRACT = (
    "participant,session,block,block_type,trial,trial_in_block,metamer_id,scene_id,model_id,group,view,"
    "odd_item,odd_position,response_key,response_position,correct,rt,is_catch,frame_interval_mean_ms,"
    "frame_interval_sd_ms,dropped_frames,timestamp,trial_type,render_1,render_2,render_3,practice_round,"
    "stimulus_frames,stimulus_frames_measured,stimulus_ms_measured"
)
TRIALS = [
    Trial(1, "main", i + 1, i + 1, f"m{i}", "s0", "net", "shape", 0, "metamer", i % 3 + 1, 0, "metamer", 0, 1, 2)
    for i in range(4)
]


@pytest.mark.parametrize("pid", ["../x", "a/b", "a b", "", "x" * 33, "é", "a.b", None])
def test_bad_participant_ids(pid: object) -> None:
    with pytest.raises(MRDError, match="participant id .* invalid: use 1-32 characters"):
        check_participant(pid, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("ses", [0, -1, "1", True])
def test_bad_sessions(ses: object) -> None:
    with pytest.raises(MRDError, match="session .* invalid"):
        check_participant("P01", ses)  # type: ignore[arg-type]


def new(tmp_path: Path) -> SessionFiles:
    f = SessionFiles(tmp_path / "data", "P-01_a", 2)
    f.create({"trials": [t.to_dict() for t in TRIALS]}, {"participant": "P-01_a"})
    return f


def test_names_header_and_rows(tmp_path: Path) -> None:
    f = new(tmp_path)
    assert [p.name for p in f.paths] == [
        "sub-P-01_a_ses-2_trials.csv",
        "sub-P-01_a_ses-2_session.json",
        "sub-P-01_a_ses-2_plan.json",
    ]
    assert ",".join(COLUMNS) == CONTRACT
    f.append(trial_row("P-01_a", 2, TRIALS[0], "left", 1, 0.5, (16.7, 0.2, 0)))
    f.append(trial_row("P-01_a", 2, TRIALS[1], None, None, None))
    f.close()
    raw = f.trials_csv.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and raw.decode().splitlines()[0] == CONTRACT
    rows = f.read_rows()
    assert rows[0]["correct"] == "1" and rows[0]["response_key"] == "left" and rows[0]["rt"] == "0.5"
    assert (rows[1]["response_position"], rows[1]["correct"], rows[1]["rt"]) == ("", "0", "")
    assert rows[1]["timestamp"].endswith("+00:00")


def test_never_overwrite(tmp_path: Path) -> None:
    f = new(tmp_path)
    before = f.plan_json.read_bytes()
    with pytest.raises(MRDError, match="already exist.*--resume"):
        SessionFiles(tmp_path / "data", "P-01_a", 2).create({"trials": []}, {})
    assert f.plan_json.read_bytes() == before


def test_resume_repairs_a_torn_row_and_checks_the_plan(tmp_path: Path) -> None:
    f = new(tmp_path)
    f.append(trial_row("P-01_a", 2, TRIALS[0], "1", 1, 0.4))
    f.close()
    with open(f.trials_csv, "a", encoding="utf-8") as fh:  # a crash in the middle of a row
        fh.write("P-01_a,2,1,main,2,2,m1")
    plan, trials, n_done = SessionFiles(tmp_path / "data", "P-01_a", 2).resume()
    assert n_done == 1 and trials == TRIALS
    assert f.trials_csv.read_text().endswith("\n")
    # a row that is not the planned trial is refused
    g = SessionFiles(tmp_path / "data", "P-01_a", 2)
    g.append(trial_row("P-01_a", 2, TRIALS[2], "1", 1, 0.4))
    g.close()
    with pytest.raises(MRDError, match="row 2 has trial '3', which is not the next planned trial after trial 1"):
        g.resume()


def test_resume_names_the_field_that_differs_from_the_plan(tmp_path: Path) -> None:
    f = new(tmp_path)
    row = trial_row("P-01_a", 2, TRIALS[0], "1", 1, 0.4)
    f.append({**row, "render_2": 3})
    f.close()
    with pytest.raises(MRDError, match=r"row 1 \(trial 1\): field 'render_2' = '3' but .*plan.json plans '1'"):
        SessionFiles(tmp_path / "data", "P-01_a", 2).resume()


def test_partial_session_files_say_how_to_recover(tmp_path: Path) -> None:
    f = new(tmp_path)
    f.sidecar_json.unlink()  # e.g. a crash while the session was created: no row yet
    with pytest.raises(MRDError, match=r"session.json missing .*no trial was recorded.*move the remaining file\(s\)"):
        SessionFiles(tmp_path / "data", "P-01_a", 2).resume()
    g = SessionFiles(tmp_path / "data", "P-01_a", 2)
    g.append(trial_row("P-01_a", 2, TRIALS[0], "1", 1, 0.4))
    g.close()
    with pytest.raises(MRDError, match=r"holds the recorded trials and is kept as it is: restore the missing"):
        SessionFiles(tmp_path / "data", "P-01_a", 2).resume()
    assert len(g.read_rows()) == 1  # nothing was changed


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(MRDError, match="--data-dir .*/f: is a file, not a folder"):
        SessionFiles(tmp_path / "f", "P01", 1)
    with pytest.raises(MRDError, match="lies inside .*/f, which is a file"):
        SessionFiles(tmp_path / "f" / "sub", "P01", 1)


def test_resume_without_data(tmp_path: Path) -> None:
    with pytest.raises(MRDError, match="nothing to resume"):
        SessionFiles(tmp_path, "P01", 1).resume()
    (tmp_path / "sub-P01_ses-1_plan.json").write_text("{}")
    with pytest.raises(MRDError, match="missing"):
        SessionFiles(tmp_path, "P01", 1).resume()


def test_rows_are_fsynced_before_append_returns(tmp_path: Path) -> None:
    """The row is in the file (visible to another reader) as soon as append returns."""
    f = new(tmp_path)
    f.append(trial_row("P-01_a", 2, TRIALS[0], "1", 1, 0.4))
    fd = os.open(f.trials_csv, os.O_RDONLY)
    try:
        assert os.read(fd, 10_000).count(b"\n") == 2
    finally:
        os.close(fd)
    f.close()


def test_resume_accepts_only_skipped_later_practice_rounds(tmp_path: Path) -> None:
    practice = [
        Trial(0, "practice", i + 1, i + 1, "catch:s1", "s0", "", "catch", 0, "metamer", 1, 1, "catch", 0, 1, 2, r)
        for i, r in enumerate((1, 1, 2, 2))
    ]
    main = [Trial(1, "main", 5 + i, i + 1, f"m{i}", "s0", "net", "shape", 0, "metamer", 2, 0, "metamer", 0, 1, 2) for i in range(2)]
    f = SessionFiles(tmp_path / "d", "P01", 1)
    f.create({"trials": [t.to_dict() for t in practice + main]}, {})
    for t in (*practice[:2], main[0]):  # round 1 passed: round 2 skipped
        f.append(trial_row("P01", 1, t, "1", 1, 0.3))
    f.close()
    assert SessionFiles(tmp_path / "d", "P01", 1).resume()[2] == 5  # continue with the second main trial
    g = SessionFiles(tmp_path / "e", "P01", 1)
    g.create({"trials": [t.to_dict() for t in practice + main]}, {})
    for t in (*practice, main[1]):  # a main trial left out: refused
        g.append(trial_row("P01", 1, t, "1", 1, 0.3))
    g.close()
    with pytest.raises(MRDError, match="row 5 has trial '6', which is not the next planned trial after trial 4"):
        SessionFiles(tmp_path / "e", "P01", 1).resume()
