"""Fuzz tests (hypothesis, bounded): the experiment config and participant ids.

Every case must end in success or a clear error (:class:`MRDError`; exit 2 on the command line), never
a Python traceback, and nothing may be written outside the target data folder. The number of cases
each test ran is printed (``pytest -s``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psychophysics.commands import main
from psychophysics.config import DEFAULT_CONFIG_PATH, ExperimentConfig, load_config
from psychophysics.datafile import SessionFiles, check_participant
from stimuli.errors import MRDError
from stimuli.tomlcheck import read_toml

DEFAULT = read_toml(DEFAULT_CONFIG_PATH)[0]
PATHS = [(t, k) for t, table in DEFAULT.items() for k in table if not isinstance(table[k], dict)] + [
    ("observers", f"{o}.{k}") for o, table in DEFAULT["observers"].items() for k in table
]
COUNTS: Counter[str] = Counter()
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)

values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 0.0, 1e-300, 1e300, 2**63, 2**64, "", "1", "inf", "nan", "true", "../x", "\x00"]),
    st.text(max_size=300),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=5), st.booleans(), st.floats()), max_size=5),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string (JSON escapes are TOML escapes)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


def _toml(data: dict[str, Any]) -> str:
    out = []
    for table, body in data.items():
        scalars = {k: v for k, v in body.items() if not (isinstance(v, dict) and table == "observers")}
        out.append(f"[{table}]")
        out += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in scalars.items()]
        for sub, inner in body.items():
            if isinstance(inner, dict) and table == "observers":
                out.append(f"[{table}.{sub}]")
                out += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in inner.items()]
    return "\n".join(out) + "\n"


def _mutate(data: dict[str, Any], edits: list[tuple[int, Any, bool]]) -> dict[str, Any]:
    out = json.loads(json.dumps(data))
    for index, value, rename in edits:
        table, key = PATHS[index % len(PATHS)]
        target = out[table]
        if "." in key:
            sub, key = key.split(".")
            target = target[sub]
        if key not in target:
            continue
        if rename:  # a typo in the field name
            target[key + "x"] = target.pop(key)
        else:
            target[key] = value
    return out


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 10_000), values, st.booleans()), min_size=1, max_size=3))
def test_fuzz_experiment_config_fields(edits: list[tuple[int, Any, bool]]) -> None:
    """Mutated fields of the default config, through the TOML file and load_config."""
    text = _toml(_mutate(DEFAULT, edits))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exp.toml"
        path.write_text(text, encoding="utf-8")
        try:
            cfg = load_config(path)
        except MRDError as exc:
            msg = str(exc)
            assert msg.startswith(str(path)) and "Traceback" not in msg
            COUNTS["config fields: clear error"] += 1
        else:
            assert ExperimentConfig.from_dict(cfg.to_dict()) == cfg
            COUNTS["config fields: accepted"] += 1
        assert os.listdir(tmp) == ["exp.toml"]


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=4)), min_size=1, max_size=4))
def test_fuzz_experiment_config_bytes(edits: list[tuple[int, bytes]]) -> None:
    """Random byte edits of the shipped default file (broken syntax, bad UTF-8, NUL bytes)."""
    raw = bytearray(DEFAULT_CONFIG_PATH.read_bytes())
    for pos, chunk in edits:
        i = pos % len(raw)
        raw[i : i + len(chunk)] = chunk
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exp.toml"
        path.write_bytes(bytes(raw))
        try:
            load_config(path)
        except MRDError as exc:
            assert str(exc).startswith(str(path))
            COUNTS["config bytes: clear error"] += 1
        else:
            COUNTS["config bytes: accepted"] += 1


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), values, st.booleans()), min_size=1, max_size=2))
def test_fuzz_experiment_config_through_the_command(store_path: Path, edits: list[tuple[int, Any, bool]]) -> None:
    """`mrd simulate` with a mutated config: exit 0 or 2 (never a traceback); files only in --data-dir."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "exp.toml").write_text(_toml(_mutate(DEFAULT, edits)), encoding="utf-8")
        rc = main(["simulate", str(store_path), "--observer", "chance", "--data-dir", str(root / "data"),
                   "--config", str(root / "exp.toml")])  # fmt: skip
        assert rc in (0, 2)
        assert {p.name for p in root.iterdir()} <= {"exp.toml", "data"}
        if rc == 2:
            assert not (root / "data").exists() or not any((root / "data").iterdir())
        COUNTS[f"simulate with fuzzed config: exit {rc}"] += 1


ids = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["..", "../x", "/etc/passwd", "a/b", "a\\b", "~root", "$HOME", "*", "\x00", "P01\n", "-", "_"]),
    st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True),
)


@SETTINGS
@given(ids, st.one_of(st.integers(-3, 5), st.booleans(), st.text(max_size=3)))
def test_fuzz_participant_ids(pid: str, session: Any) -> None:
    """Ids and sessions: valid ones name files inside the data folder, every other one a clear error."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "data"
        try:
            check_participant(pid, session)
            f = SessionFiles(data, pid, session)
            f.create({"trials": []}, {"participant": pid})
        except MRDError as exc:
            assert "invalid" in str(exc)
            COUNTS["participant ids: clear error"] += 1
            assert not data.exists()
        else:
            assert all(p.resolve().parent == data.resolve() for p in f.paths)
            assert {p.name for p in data.iterdir()} == {p.name for p in f.paths}
            COUNTS["participant ids: accepted"] += 1
        assert {p.name for p in root.iterdir()} <= {"data"}


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(ids)
def test_fuzz_participant_ids_through_the_command(store_path: Path, pid: str) -> None:
    """`mrd experiment --participant ID` without a display: always exit 2, never a file written."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        old = os.environ.pop("DISPLAY", None)
        try:
            rc = main(["experiment", "--stimuli", str(store_path), f"--participant={pid}", "--data-dir", str(root / "d")])
        finally:
            if old is not None:
                os.environ["DISPLAY"] = old
        assert rc == 2 and not any(root.iterdir())
        COUNTS["experiment --participant (no display): exit 2"] += 1


@pytest.fixture(scope="module", autouse=True)
def _report() -> Any:
    yield
    if COUNTS:
        print("\nfuzz cases:", dict(sorted(COUNTS.items())), f"total {sum(COUNTS.values())}")


CASES = {"config fields": 200, "config bytes": 200, "simulate with fuzzed config": 30, "participant ids": 200,
         "experiment --participant (no display)": 25}  # fmt: skip
"""Cases each fuzz test above runs (its ``max_examples``)."""


def test_fuzz_counts() -> None:
    """Runs last: every fuzz test above that ran tried all its cases, each ending in success or a clear
    error (a traceback fails the test itself)."""
    groups: Counter[str] = Counter()
    for key, n in COUNTS.items():
        groups[key.split(":")[0]] += n
    print("\nfuzz cases per input kind:", dict(groups))
    assert set(groups) <= set(CASES), groups
    for kind, n in groups.items():
        assert n == CASES[kind], (kind, n, dict(COUNTS))
