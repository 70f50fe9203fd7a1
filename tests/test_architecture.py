"""The layout holds: no import cycles (module level and with function-level imports), the dependency
direction of DESIGN.md, and a config that parses without torch or Mitsuba."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _graph_module():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_no_import_cycles():
    g = _graph_module()
    assert g.cycles(g.module_graph(ROOT, include_lazy=False)) == []
    assert g.cycles(g.module_graph(ROOT, include_lazy=True)) == []
    assert g.cycles(g.package_graph(g.module_graph(ROOT, include_lazy=False))) == []


def test_dependency_direction():
    g = _graph_module()
    pk = g.package_graph(g.module_graph(ROOT, include_lazy=True))
    assert pk["stimuli"] <= {"stimuli"} or pk["stimuli"] == set()  # stimuli depends on none of the others
    for pkg in ("psychophysics", "analysis"):
        assert not any(d.startswith("mrd") for d in pk[pkg]), (pkg, pk[pkg])
    assert "analysis" not in pk["psychophysics"] and "psychophysics" not in pk["analysis"]


def test_config_parsing_imports_neither_torch_nor_mitsuba():
    code = (
        "import sys; from mrd.config import load_config; load_config('stimuli/sets/pilot.toml'); "
        "print('torch' in sys.modules, 'mitsuba' in sys.modules, 'drjit' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False False"


def test_import_mrd_is_light_and_exposes_the_notebook_objects():
    code = "import sys, mrd; print(sorted(mrd.__all__)); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    names, torch_loaded = out.strip().splitlines()
    for name in ("Metamer", "load_model", "load_config", "generate", "score"):
        assert name in names
    assert torch_loaded == "False"
