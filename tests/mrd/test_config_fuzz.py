"""Fuzzing the stimulus-set config: every mutation of a real config is accepted or refused with a
clear error (MRDError naming the file), never a traceback; a refused `mrd generate` leaves no files.

Counts (cases tried) are printed with ``pytest -s``; the closing note of issue 14 quotes them.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mrd.config import parse_config
from stimuli.errors import MRDError

TINY = Path(__file__).parents[1] / "data" / "tiny_demo.toml"
BASE = tomllib.loads(TINY.read_text())
COUNTS = {"cases": 0, "accepted": 0, "refused": 0}


def to_toml(data: dict[str, Any]) -> str:
    """A TOML document of ``data`` (top-level keys, nested values as inline tables and arrays)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(str(k))} = {value(x)}" for k, x in v.items()) + "}"
        raise TypeError(type(v))

    return "\n".join(f"{json.dumps(k)} = {value(v)}" for k, v in data.items()) + "\n"


def leaves(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in leaves(v, (*path, k))] + [path]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in leaves(v, (*path, i))] + [path]
    return [path]


PATHS = [p for p in leaves(BASE) if p]
ODD_VALUES = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e-300, 1e300, 2**63, "", "x" * 5000, "../../etc/passwd", "a\nb", "\x00", [], {}]),
    st.text(max_size=20),
    st.lists(st.one_of(st.integers(-5, 5), st.floats(-2, 2), st.booleans()), max_size=5),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _mutate(data: Any, path: tuple, op: str, new: Any) -> Any:
    import copy

    out = copy.deepcopy(data)
    node = out
    for part in path[:-1]:
        node = node[part]
    last = path[-1]
    if op == "delete":
        del node[last]
    elif op == "add" and isinstance(node[last], dict):
        node[last]["unknown_field"] = new
    else:
        node[last] = new
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), op=st.sampled_from(["replace", "replace", "delete", "add"]), new=ODD_VALUES)
def test_mutated_configs_are_accepted_or_refused_clearly(path, op, new):
    text = to_toml(_mutate(BASE, path, op, new))
    COUNTS["cases"] += 1
    try:
        cfg = parse_config(text, "fuzz.toml")
    except MRDError as exc:
        COUNTS["refused"] += 1
        assert str(exc).startswith("fuzz.toml"), str(exc)
        return
    COUNTS["accepted"] += 1
    # an accepted config is physically sensible: finite numbers everywhere, jobs well formed
    assert all(math.isfinite(x) for x in (cfg.render.distance, cfg.render.exposure, cfg.optimize.lr.shape))
    assert all(0 <= j.seed < 2**63 for j in cfg.jobs())


def test_the_fuzz_counts(capsys):
    # runs after the fuzz test in file order; reported for the closing note
    print(f"config fuzz: {COUNTS}")
    assert COUNTS["cases"] in (0, 300) and COUNTS["cases"] == COUNTS["accepted"] + COUNTS["refused"]


def test_whole_file_garbage_is_refused_clearly(tmp_path):
    from mrd.config import load_config

    cases = {
        "latin1.toml": "title = 'caf\xe9'\n".encode("latin-1"),
        "nul.toml": b"title = 'a'\x00\n",
        "binary.toml": bytes(range(256)),
        "deep.toml": b"a = " + b"[" * 5000 + b"]" * 5000,
        "empty.toml": b"",
    }
    for name, raw in cases.items():
        p = tmp_path / name
        p.write_bytes(raw)
        with pytest.raises(MRDError, match=str(p)):
            load_config(p)
    with pytest.raises(MRDError, match="is a folder"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (('name = "mobilenetv2_100"', 'name = "mobilenetv2_1000"'), "mobilenetv2_1000"),
        (('layers = ["blocks.2", "blocks.4", "blocks.6"]', 'layers = ["blocks.2"]\nweights = "missing.pth"'), "missing.pth"),
        (('shape = { kind = "harmonic", seed = 1', 'shape = { kind = "file", path = "fifo.ply", seed = 1'), "not a regular file"),
    ],
)
def test_refused_generate_leaves_no_files(tmp_path, patch, message):
    import os

    from mrd.cli import main

    os.mkfifo(tmp_path / "fifo.ply")
    cfg = tmp_path / "bad.toml"
    cfg.write_text(TINY.read_text().replace(*patch))
    before = set(os.listdir(tmp_path))
    assert main(["generate", str(cfg), "--out", str(tmp_path / "set.h5"), "--quiet"]) == 2
    assert set(os.listdir(tmp_path)) == before  # no store, no lock, no journal
