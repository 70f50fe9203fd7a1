"""``mrd analyze`` / ``mrd power`` options (hypothesis, bounded): every value is taken within its stated
range or refused with exit 2 and a message naming the option, the value and the valid range; never a
traceback. The cases are counted and the counts asserted (printed with ``pytest -s``)."""

from __future__ import annotations

import argparse
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.commands import MAX_SEED, add_commands
from analysis.commands import main as cli

# option: (subcommand, kind, lo, hi, lo_open, hi_open)
OPTIONS: dict[str, tuple[str, str, float, float, bool, bool]] = {
    "--n-boot": ("analyze", "int", 1, 100_000, False, False),
    "--sigma": ("analyze", "float", 0, 1000, True, False),
    "--seed": ("analyze", "int", 0, MAX_SEED, False, False),
    "--participants": ("power", "ints", 2, 10_000, False, False),
    "--repeats": ("power", "ints", 1, 10_000, False, False),
    "--items": ("power", "ints", 2, 100_000, False, False),
    "--effect": ("power", "float", -20, 20, False, False),
    "--baseline-pc": ("power", "float", 1 / 3, 1, True, True),
    "--sd-participant": ("power", "float", 0, 10, False, False),
    "--sd-item": ("power", "float", 0, 10, False, False),
    "--n-sims": ("power", "int", 1, 100_000, False, False),
    "--alpha": ("power", "float", 0, 1, True, True),
}
N_CASES = 250


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mrd")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def _inside(value: float, lo: float, hi: float, lo_open: bool, hi_open: bool) -> bool:
    return math.isfinite(value) and (lo < value if lo_open else lo <= value) and (value < hi if hi_open else value <= hi)


numbers = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-30, 30).map(lambda v: f"{v:.6g}"),
    st.sampled_from(["0", "1", "-1", "2", "1/3", "0.3333333333", "1e309", "-1e309", "nan", "inf", "-inf", "NaN", "true",
                     "False", "", " ", "\x00", "1\x00", "0x10", "1_000", "1e3", "1.0", "٣", "4,8,16", "4,,8", ",",
                     "1," * 70, "2," * 10, "4;8", "9" * 200, "0.05", "1e-300", "+5", "-0"]),  # fmt: skip
    st.lists(st.integers(-5, 20_000).map(str), min_size=0, max_size=6).map(",".join),
    st.text(max_size=30),
)


def test_fuzzed_analysis_options_are_taken_in_range_or_refused_clearly(capsys: Any) -> None:
    parser = _parser()
    counts: Counter[str] = Counter()

    @settings(max_examples=N_CASES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(option=st.sampled_from(sorted(OPTIONS)), text=numbers)
    def one(option: str, text: str) -> None:
        command, kind, lo, hi, lo_open, hi_open = OPTIONS[option]
        argv = [command, "--trials", "t.csv", "--out", "o", f"{option}={text}"]
        counts["cases"] += 1
        capsys.readouterr()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:
            err = capsys.readouterr().err
            assert exc.code == 2, (argv, exc.code)
            assert f"argument {option}:" in err and "give " in err and "Traceback" not in err, (argv, err)
            counts["refused"] += 1
            return
        value = getattr(args, option[2:].replace("-", "_"))
        values = value if kind == "ints" else [value]
        assert values and all(not isinstance(v, bool) for v in values), (argv, value)
        assert all(isinstance(v, int) for v in values) if kind != "float" else isinstance(value, float), (argv, value)
        assert all(_inside(float(v), lo, hi, lo_open, hi_open) for v in values), (argv, value)
        counts["accepted"] += 1

    one()
    print(f"\nanalysis options fuzz: {dict(counts)}")
    assert counts["cases"] == N_CASES and counts["accepted"] + counts["refused"] == N_CASES
    assert counts["accepted"] > 0 and counts["refused"] > 0


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["power", "--alpha", "1.5"], "argument --alpha: 1.5 is out of range; give a number in (0, 1)"),
        (["power", "--n-sims=-3"], "argument --n-sims: -3 is out of range; give an integer in [1, 100000]"),
        (["power", "--sd-item", "nan"], "argument --sd-item: 'nan' is not a finite number; give a number in [0, 10]"),
        (["power", "--participants", "4,1"], "entry 1 is out of range; give comma-separated integers in [2, 10000]"),
        (["power", "--repeats", ","], "argument --repeats: ',' is empty"),
        (["power", "--baseline-pc", "0.2"], "give a number in (0.333333, 1)"),
        (["analyze", "--n-boot", "1e9"], "argument --n-boot: '1e9' is not an integer; give an integer in [1, 100000]"),
        (["analyze", "--sigma", "true"], "argument --sigma: 'true' is not a number"),
        (["analyze", "--seed", "-1"], "argument --seed: -1 is out of range; give an integer in [0, 4294967295]"),
    ],
)
def test_bad_options_exit_2_naming_option_value_and_range(argv: list[str], says: str, capsys: Any) -> None:
    with pytest.raises(SystemExit) as exc:
        cli([argv[0], "--trials", "t.csv", "--out", "o", *argv[1:]])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err, err


def test_extreme_valid_options_run_to_a_result_or_a_clear_error(tmp_path: Path, capsys: Any) -> None:
    """Values at the ends of the ranges reach the analysis: exit 0, or exit 2 with a message."""
    rng = np.random.default_rng(0)
    items = [f"i{k}" for k in range(6)]
    rows = [{"participant": f"P{p}", "item": i, "condition": "c", "correct": int(rng.random() < 0.7),
             "x": 0.1 * (k + 1)} for p in range(4) for k, i in enumerate(items) for _ in range(3)]  # fmt: skip
    table = tmp_path / "t.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    base = ["power", "--trials", str(table), "--x-col", "x", "--participants", "2", "--repeats", "1", "--quiet"]
    runs = [
        [*base, "--out", str(tmp_path / "p1"), "--n-sims", "1", "--alpha", "1e-300", "--baseline-pc", "0.9999",
         "--sd-participant", "0", "--sd-item", "10", "--effect", "20", "--seed", str(MAX_SEED)],
    ]  # fmt: skip
    for argv in runs:
        rc = cli(argv)
        err = capsys.readouterr().err
        assert rc in (0, 2) and "Traceback" not in err, (argv, rc, err[-2000:])
        assert rc == 0 or "error:" in err
