"""Reading a stimulus set never imports code named inside it; `mrd inspect` says a model is user code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from stimuli import StoreWriter
from stimuli.records import ModelRecord
from stimuli.testing import synthetic_metamer, synthetic_scene

EVIL = "import pathlib, os\npathlib.Path(os.environ['MRD_MARKER']).write_text('imported')\n"

READER = r"""
import json, sys
from pathlib import Path
from mrd.cli import main
from stimuli import StimulusSet, validate_store
from stimuli.summary import summarize
store, out = sys.argv[1], Path(sys.argv[2])
codes = {
    "validate": main(["inspect", store, "--validate"]),
    "inspect": main(["inspect", store]),
    "json": main(["inspect", store, "--json"]),
    "export": main(["export", store, str(out / "png")]),
    "sheet": main(["inspect", store, "--sheet", str(out / "sheet.png")]),
}
with StimulusSet(store) as s:
    for xid in s.metamer_ids:
        s.metamer(xid); s.verify_metadata("metamer", xid)
    s.models; s.verify_images()
note = summarize(store)["user_modules"]
print(json.dumps({"codes": codes, "imported": [m for m in sys.modules if m.startswith("evilpkg")], "note": note}))
"""


def test_reading_a_store_never_imports_its_user_modules(tmp_path: Path) -> None:
    pkg = tmp_path / "site" / "evilpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(EVIL)
    (pkg / "nets.py").write_text(EVIL + "def build():\n    return None\n")
    store = tmp_path / "set.h5"
    scene = synthetic_scene("s0", n_renders=2)
    with StoreWriter(store, config_text='[[models]]\nid = "user"\nname = "evilpkg.nets:build"\n') as w:
        w.add_model(ModelRecord("user", "evilpkg.nets:build", "module", "evilpkg", "", ["layer_a", "layer_b"],
                                (3, 32, 32), (0.5,) * 3, (0.5,) * 3))
        w.add_scene(scene)
        w.add_metamer(synthetic_metamer(scene, "s0-m0", "user", 0.05, n_renders=2))
    marker = tmp_path / "marker"
    env = dict(os.environ, MRD_MARKER=str(marker),
               PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), os.getcwd()]))
    proc = subprocess.run([sys.executable, "-c", READER, str(store), str(tmp_path)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["codes"] == {"validate": 0, "inspect": 0, "json": 0, "export": 0, "sheet": 0}
    assert result["imported"] == [] and not marker.exists()  # the module is importable, and was not imported
    assert "'user' is user code (evilpkg.nets:build)" in result["note"] and "never imports it" in result["note"]
    assert "note: model 'user' is user code (evilpkg.nets:build)" in proc.stdout
    check = subprocess.run([sys.executable, "-c", "import evilpkg.nets"], env=env, capture_output=True)
    assert check.returncode == 0 and marker.exists()  # proof the marker works when the code does run
