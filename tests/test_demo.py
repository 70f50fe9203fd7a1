"""The newcomer's loop, end to end at reduced size: generate, three simulated sessions, analyse, report."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mrd.demo import display_usable, run_demo, set_aside_stale
from stimuli import StimulusSet, validate_store
from stimuli.testing import write_synthetic_store

DATA = Path(__file__).parent / "data"


def _not_blank(path: Path) -> bool:
    img = np.asarray(Image.open(path).convert("RGB")).astype(float)
    return img.std() > 10 and len(np.unique(img.reshape(-1, 3), axis=0)) > 50


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display: make test runs under xvfb-run")
def test_demo_loop_end_to_end(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # PsychoPy writes ~/.psychopy3
    assert display_usable()
    res = run_demo(tmp_path / "demo", config=DATA / "tiny_demo.toml", experiment_config=DATA / "tiny_experiment.toml",
                   n_boot=50)
    out = capsys.readouterr().out
    assert "Open the report" in out and str(res.report.resolve()) in out
    assert res.windowed  # the real PsychoPy session ran, under Xvfb
    assert validate_store(res.store) == []
    with StimulusSet(res.store) as s:
        assert len(s.metamer_ids) == 4 and len(s.scene_ids) == 2
        digest = s.digest
    # three sessions, each complete and tied to this store
    sidecars = sorted(res.data_dir.glob("sub-*_ses-1_session.json"))
    assert len(sidecars) == 3
    import json

    for sc in sidecars:
        info = json.loads(sc.read_text())
        assert info["completed"] and info["stimulus_digest"] == digest and info["observer"] == "model"
    # tables with the expected rows
    tables = res.analysis_dir / "tables"
    items = pd.read_csv(tables / "summary_items.csv")
    assert len(items) == 4 and items["n"].gt(0).all()
    assert ((items["pc"] >= 0) & (items["pc"] <= 1)).all()
    conditions = pd.read_csv(tables / "summary_conditions.csv")
    assert set(conditions["group"]) == {"material", "shape"}
    participants = pd.read_csv(tables / "summary_participants.csv")
    assert len(participants) == 3
    # figures exist and are not blank
    figures = sorted((res.analysis_dir / "figures").glob("*.png"))
    assert len(figures) >= 3
    assert all(_not_blank(f) for f in figures)
    assert _not_blank(res.sheet)
    html = res.report.read_text()
    assert "<img" in html and "3 participants" in html.replace("three", "3")


def test_output_of_an_older_demo_config_is_moved_aside_whole_never_deleted(tmp_path):
    out, cfg = tmp_path / "demo_output", tmp_path / "demo.toml"
    out.mkdir()
    cfg.write_text("title = 'demo'\n")
    write_synthetic_store(out / "demo.h5", config_text="title = 'demo'\n")
    (out / "data").mkdir()
    (out / "data" / "sub-sim01_ses-1_trials.csv").write_text("trial\n1\n")
    assert set_aside_stale(out, out / "demo.h5", cfg) is None  # same config: resume in place
    assert (out / "demo.h5").exists()
    cfg.write_text("title = 'demo'\nseed = 1\n")  # the demo config changed (an update)
    moved = set_aside_stale(out, out / "demo.h5", cfg)
    assert moved is not None and moved.parent == tmp_path and moved.name.startswith("demo_output.previous-")
    assert not out.exists()
    assert (moved / "demo.h5").exists()
    assert (moved / "data" / "sub-sim01_ses-1_trials.csv").read_text() == "trial\n1\n"
    # a second stale output the same second gets its own name
    out.mkdir()
    write_synthetic_store(out / "demo.h5", config_text="other\n")
    again = set_aside_stale(out, out / "demo.h5", cfg)
    assert again is not None and again != moved and again.exists() and moved.exists()
    # an unreadable store is left where it is, for generate() to report
    out.mkdir()
    (out / "demo.h5").write_text("not hdf5")
    assert set_aside_stale(out, out / "demo.h5", cfg) is None and (out / "demo.h5").exists()
