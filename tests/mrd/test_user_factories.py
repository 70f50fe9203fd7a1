"""User factories named in a config ("module:callable") that fail or return the wrong thing give a
clear error naming the model id, the config field and the value, never a traceback (issue 14).

Names of things that are not factories (``os:system``, ``builtins:eval``, ``os:abort``,
``torch.nn:Linear``) are refused before they are called.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mrd.models import ModelSpec, load_model
from stimuli.errors import MRDError

ROOT = Path(__file__).resolve().parents[2]

BAD_MODULE = '''
import sys
import torch

class Net(torch.nn.Module):
    def __init__(self, out=None):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 3)
        self._out = out
    def forward(self, x):
        y = self.conv(x)
        return {"a": y} if self._out is None else self._out(x, y)

def good():
    return Net(), ["a"]
def fails():
    raise RuntimeError("no GPU here")
def exits():
    sys.exit(3)
def needs_args(width):
    return Net(), ["a"]
def module_only():
    return Net()
def layers_str():
    return Net(), "a"
def layers_empty():
    return Net(), []
def layers_ints():
    return Net(), [1, 2]
def not_module():
    return object(), ["a"]
def nothing():
    return None
def forward_fails():
    return Net(lambda x, y: 1 / 0), ["a"]
def forward_tensor():
    return Net(lambda x, y: y), ["a"]
def forward_list():
    return Net(lambda x, y: {"a": [1.0, 2.0]}), ["a"]
def forward_ints():
    return Net(lambda x, y: {"a": y.long()}), ["a"]
def forward_no_batch():
    return Net(lambda x, y: {"a": y.sum()}), ["a"]
def forward_nan():
    return Net(lambda x, y: {"a": y * float("nan")}), ["a"]
def bad_size():
    m = Net(); m.input_size = (3, 10**6, 224); return m, ["a"]
def bad_mean():
    m = Net(); m.mean = (0.5, float("nan"), 0.5); return m, ["a"]
NOT_CALLABLE = 3
'''

CASES = [
    # (name, what the message must say)
    ("os:system", "is a built-in function"),
    ("os:abort", "is a built-in function"),
    ("builtins:eval", "is a built-in function"),
    ("torch.nn:Linear", "is a class"),
    ("subprocess:call", "factory() failed (TypeError"),
    ("badfactories:fails", "factory() failed (RuntimeError: no GPU here)"),
    ("badfactories:exits", "factory() failed (SystemExit: 3)"),
    ("badfactories:needs_args", "needs arguments"),
    ("badfactories:NOT_CALLABLE", "has no callable 'NOT_CALLABLE'"),
    ("badfactories:module_only", "got only a Net module (no layer names)"),
    ("badfactories:layers_str", "its second item is str 'a'"),
    ("badfactories:layers_empty", "its second item is list []"),
    ("badfactories:layers_ints", "layer names must be non-empty strings, got int 1"),
    ("badfactories:not_module", "its first item is object"),
    ("badfactories:nothing", "got NoneType None"),
    ("badfactories:forward_fails", "forward(x) failed on a (1, 3, 224, 224) batch (ZeroDivisionError"),
    ("badfactories:forward_tensor", "forward(x) must return a dict of tensors, got Tensor"),
    ("badfactories:forward_list", "forward(x)['a'] must be a floating-point tensor, got list"),
    ("badfactories:forward_ints", "forward(x)['a'] must be a floating-point tensor, got Tensor"),
    ("badfactories:forward_no_batch", "its first axis must be the batch (1)"),
    ("badfactories:forward_nan", "forward(x)['a'] holds NaN or infinite values"),
    ("badfactories:bad_size", "with integers H, W in 1..4096"),
    ("badfactories:bad_mean", "attribute mean = tuple (0.5, nan, 0.5) must be 3 finite numbers"),
    ("badfactories.missing:x", "cannot import 'badfactories.missing'"),
    ("brokenmodule:f", "importing 'brokenmodule' failed (ValueError: broken at import)"),
    ("syntaxmodule:f", "importing 'syntaxmodule' failed (SyntaxError"),
    ("os:path:join", "a user module is named 'package.module:factory'"),
]


@pytest.fixture()
def user_modules(tmp_path, monkeypatch):
    (tmp_path / "badfactories.py").write_text(BAD_MODULE)
    (tmp_path / "brokenmodule.py").write_text("raise ValueError('broken at import')\n")
    (tmp_path / "syntaxmodule.py").write_text("def f(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("badfactories", "brokenmodule", "syntaxmodule"):
        sys.modules.pop(name, None)
    return tmp_path


@pytest.mark.parametrize(("name", "says"), CASES, ids=[c[0] for c in CASES])
def test_bad_factory_gives_a_clear_error_naming_model_field_and_value(user_modules, name, says):
    spec = ModelSpec(name=name, layers=["a"])
    with pytest.raises(MRDError) as err:
        load_model(spec)
    msg = str(err.value)
    assert says in msg, msg
    assert f"model {spec.model_id!r}" in msg and f"[[models]] name = {name!r}" in msg, msg


def test_a_good_factory_in_the_same_module_loads(user_modules):
    model = load_model(ModelSpec(name="badfactories:good", layers=["a"], id="mine"))
    assert model.record.model_id == "mine" and model.record.source == "module"
    assert tuple(model.features(torch.rand(2, 3, 40, 40))["a"].shape) == (2, 2, 222, 222)


def _config(tmp_path: Path, model_name: str) -> Path:
    text = (ROOT / "tests" / "data" / "tiny_demo.toml").read_text()
    text = text.replace('name = "mobilenetv2_100"\nlayers = ["blocks.2", "blocks.4", "blocks.6"]',
                        f'name = "{model_name}"\nlayers = ["a"]')  # fmt: skip
    assert model_name in text
    cfg = tmp_path / "cfg" / "set.toml"
    cfg.parent.mkdir()
    cfg.write_text(text)
    return cfg


def test_generate_refuses_os_abort_with_exit_2_and_leaves_no_files(tmp_path):
    """The end-to-end path of every case above (one subprocess: each costs ~15 s of start-up here)."""
    name = "os:abort"
    cfg = _config(tmp_path, name)
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-m", "mrd.cli", "generate", str(cfg), "--out", str(out / "set.h5"), "--quiet",
                          "--variant", "llvm_ad_rgb"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stderr
    assert f"[[models]] name = {name!r}" in res.stderr and f"model {name.replace(':', '_')!r}" in res.stderr
    assert list(out.iterdir()) == []


def test_a_factory_that_aborts_kills_the_process_but_leaves_no_files(tmp_path):
    """Documented limit (docs/generate.md, "A config is a script"): code a config names runs, and
    ``os.abort()`` inside it cannot be stopped in-process; models load before the store exists, so
    nothing is left behind."""
    (tmp_path / "aborting.py").write_text("import os\n\ndef build():\n    os.abort()\n")
    cfg = _config(tmp_path, "aborting:build")
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]))
    res = subprocess.run([sys.executable, "-m", "mrd.cli", "generate", str(cfg), "--out", str(out / "set.h5"), "--quiet",
                          "--variant", "llvm_ad_rgb"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == -6, (res.returncode, res.stderr[-2000:])  # SIGABRT
    assert list(out.iterdir()) == []
