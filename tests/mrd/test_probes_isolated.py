"""Runs ``test_probes.py`` in a fresh interpreter and requires every one of its tests to pass there.

Why a fresh process: see the comment at the top of ``test_probes.py`` (Dr.Jit autodiff state left by
earlier tests in one long pytest process breaks forward mode through the PRB integrator).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_probe_tests_pass_in_a_fresh_process():
    env = {**os.environ, "MRD_PROBES_ISOLATED": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HERE / "test_probes.py")],
                          capture_output=True, text=True, env=env, cwd=HERE.parents[1], timeout=1800)  # fmt: skip
    tail = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    m = re.search(r"(\d+) passed", proc.stdout)
    assert m and int(m.group(1)) >= 5 and "skipped" not in proc.stdout.splitlines()[-1], tail
