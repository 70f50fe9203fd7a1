"""The scripts in examples/ run as a researcher would run them, and make what they say they make."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WALLIS = ROOT.parent / "shared" / "datasets" / "wallis2017_oddity" / "experiment11_trials.csv"


def _run(script: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, str(ROOT / "examples" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def test_one_metamer_example_makes_its_figure(tmp_path):
    res = _run("01_one_metamer.py", str(tmp_path))
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "one_metamer.png").stat().st_size > 10_000
    assert "steps, stop:" in res.stdout


def test_set_and_session_example_writes_session_data(tmp_path):
    res = _run("02_set_and_session.py", str(tmp_path))
    assert res.returncode == 0, res.stderr[-3000:]
    assert len(list((tmp_path / "data").glob("sub-*_trials.csv"))) == 3
    assert len(list((tmp_path / "data").glob("sub-*_session.json"))) == 3


@pytest.mark.skipif(not WALLIS.exists(), reason=f"{WALLIS} not found (the shared datasets sit next to the clone in CI)")
def test_published_table_example_writes_a_report(tmp_path):
    res = _run("03_published_table.py", str(tmp_path))
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "wallis" / "report.html").exists()
