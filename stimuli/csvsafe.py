"""Neutralise CSV cells that a spreadsheet would run as formulas (CSV injection).

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
spreadsheet programs as a formula (``=HYPERLINK(...)``, ``@SUM(...)``, ``-1+cmd|...``). Output tables
meant for people to open get such cells prefixed with an apostrophe, which spreadsheets show as
plain text. Numbers (also negative ones, and text that is a plain number such as ``"-0.5"``) are
left as they are. Data files that the suite reads back (session CSVs) are not rewritten: they keep
what was recorded, and their readers check ids instead.

Examples
--------
>>> safe_cell("=HYPERLINK(\\"http://x\\")"), safe_cell("-0.5"), safe_cell("P01"), safe_cell(-2)
('\\'=HYPERLINK("http://x")', '-0.5', 'P01', -2)
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet treat a cell as a formula."""


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text)) or text.strip().lower().lstrip("+-") in ("inf", "infinity", "nan")
    except ValueError:
        return False


def safe_cell(value: Any) -> Any:
    """``value``, or ``"'" + value`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _is_number(value):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with every text cell and column name passed through :func:`safe_cell`.

    Numeric columns are not touched (and not copied cell by cell), so this is cheap on long tables.

    Examples
    --------
    >>> safe_frame(pd.DataFrame({"participant": ["@evil", "P2"], "pc": [-0.1, 0.9]})).values.tolist()
    [["'@evil", -0.1], ['P2', 0.9]]
    """
    out = df.copy(deep=False)
    for col in out.columns:
        s = out[col]
        if s.dtype == object or isinstance(s.dtype, pd.StringDtype | pd.CategoricalDtype):
            text = s.astype(object)
            risky = text.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_START))
            if risky.any():
                out[col] = text.where(~risky, text[risky].map(safe_cell))
    out.columns = [safe_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out
