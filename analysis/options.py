"""Typed, finite, bounded command-line options of ``mrd analyze`` and ``mrd power``.

Each function returns an ``argparse`` type: it turns the option's text into a value or raises
:class:`argparse.ArgumentTypeError` with the value and the valid range, which argparse prints after
the option's name (``mrd power: error: argument --alpha: 1.5 is not in (0, 1) ...``) and exits 2.
Booleans are not numbers, non-finite values (``nan``, ``inf``) and values outside the range are
refused, and lists have a bounded length.

Examples
--------
>>> import argparse
>>> p = argparse.ArgumentParser(prog="mrd", exit_on_error=False)
>>> _ = p.add_argument("--alpha", type=float_in(0, 1, lo_open=True, hi_open=True))
>>> p.parse_args(["--alpha", "0.01"]).alpha
0.01
>>> try:
...     p.parse_args(["--alpha", "nan"])
... except argparse.ArgumentError as exc:
...     print(exc)
argument --alpha: 'nan' is not a finite number; give a number in (0, 1)
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

MAX_TEXT = 64
"""Longest option text read as one number (longer text is refused before parsing)."""
MAX_LIST = 64
"""Most entries of a comma-separated list option."""
_WORDS = {"true", "false", "yes", "no", "on", "off", "none", "null"}


def _range(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> str:
    return f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def _clean(text: str, kind: str, valid: str) -> str:
    t = str(text).strip()
    if not t or len(t) > MAX_TEXT or "\x00" in t or t.lower() in _WORDS:
        shown = repr(t if len(t) <= MAX_TEXT else t[:MAX_TEXT] + "...")
        raise argparse.ArgumentTypeError(f"{shown} is not {kind}; give {valid}")
    return t


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """An integer option in ``[lo, hi]``.

    Parameters
    ----------
    lo, hi : int
        Smallest and largest valid value.

    Returns
    -------
    callable
        ``str -> int`` for ``argparse``'s ``type=``.

    Examples
    --------
    >>> int_in(1, 10)("7")
    7
    >>> int_in(1, 10)("0")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: 0 is out of range; give an integer in [1, 10]
    """
    valid = f"an integer in [{lo}, {hi}]"

    def parse(text: str) -> int:
        t = _clean(text, "an integer", valid)
        try:
            value = int(t)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{t!r} is not an integer; give {valid}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is out of range; give {valid}")
        return value

    parse.__name__ = "integer"
    return parse


def float_in(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> Callable[[str], float]:
    """A finite number option in ``[lo, hi]`` (either end open with ``lo_open`` / ``hi_open``).

    Parameters
    ----------
    lo, hi : float
        Range ends.
    lo_open, hi_open : bool
        Exclude that end.

    Returns
    -------
    callable
        ``str -> float`` for ``argparse``'s ``type=``.

    Examples
    --------
    >>> float_in(0, 10, lo_open=True)("2.5")
    2.5
    >>> float_in(0, 10, lo_open=True)("-inf")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: '-inf' is not a finite number; give a number in (0, 10]
    """
    valid = f"a number in {_range(lo, hi, lo_open, hi_open)}"

    def parse(text: str) -> float:
        t = _clean(text, "a number", valid)
        try:
            value = float(t)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{t!r} is not a number; give {valid}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{t!r} is not a finite number; give {valid}")
        if value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi):
            raise argparse.ArgumentTypeError(f"{value:g} is out of range; give {valid}")
        return value

    parse.__name__ = "number"
    return parse


def int_list_in(lo: int, hi: int, max_len: int = MAX_LIST) -> Callable[[str], list[int]]:
    """A comma-separated list option of 1 to ``max_len`` integers, each in ``[lo, hi]``.

    Parameters
    ----------
    lo, hi : int
        Smallest and largest valid entry.
    max_len : int
        Most entries.

    Returns
    -------
    callable
        ``str -> list[int]`` for ``argparse``'s ``type=``.

    Examples
    --------
    >>> int_list_in(2, 100)("4, 8,16")
    [4, 8, 16]
    >>> int_list_in(2, 100)("4,1")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: entry 1 is out of range; give comma-separated integers in [2, 100]
    """
    valid = f"comma-separated integers in [{lo}, {hi}]"

    def parse(text: str) -> list[int]:
        t = str(text)
        if "\x00" in t or len(t) > max_len * 12:
            raise argparse.ArgumentTypeError(f"the list is not readable (NUL byte or over {max_len * 12} characters); "
                                             f"give {valid}")  # fmt: skip
        parts = [p.strip() for p in t.split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"{t!r} is empty; give {valid}, e.g. {lo},{min(hi, 2 * lo or 1)}")
        if len(parts) > max_len:
            raise argparse.ArgumentTypeError(f"{len(parts)} entries; give at most {max_len} {valid}")
        out = []
        for p in parts:
            if len(p) > MAX_TEXT or p.lower() in _WORDS:
                raise argparse.ArgumentTypeError(f"entry {p[:MAX_TEXT]!r} is not an integer; give {valid}")
            try:
                value = int(p)
            except ValueError:
                raise argparse.ArgumentTypeError(f"entry {p!r} is not an integer; give {valid}") from None
            if not lo <= value <= hi:
                raise argparse.ArgumentTypeError(f"entry {value} is out of range; give {valid}")
            out.append(value)
        return out

    parse.__name__ = "integer list"
    return parse
