r"""The generic entry: any tidy table of oddity trials (one row per trial), no stimulus set needed.

Published oddity data (e.g. Wallis et al. 2017) load through a column mapping onto the canonical
columns of :mod:`analysis.load` (``participant``, ``item``, ``condition``, ``correct``, ...).

Examples
--------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = p.write_text("subject,image,model,correct\nA,x,m1,1\nA,y,m1,0\nB,x,m2,1\n")
>>> d = load_trials_table(p, participant_col="subject", item_cols="image", condition_cols="model")
>>> len(d.trials), sorted(d.trials["participant"].unique())
(3, ['A', 'B'])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.load import LoadedData, _binary, show
from stimuli.errors import MRDError

_NUL_SCAN = 1 << 24


def _as_list(cols: str | Sequence[str] | None) -> list[str]:
    if cols is None:
        return []
    return [cols] if isinstance(cols, str) else list(cols)


def _row(mask: np.ndarray) -> int:
    """CSV line number (header = line 1) of the first True in ``mask``."""
    return int(np.flatnonzero(mask)[0]) + 2


def _nul_line(path: Path) -> int | None:
    """Line number of the first NUL byte in the file, or ``None`` (reads in 16 MiB blocks)."""
    line = 1
    with open(path, "rb") as fh:
        while block := fh.read(_NUL_SCAN):
            at = block.find(b"\0")
            if at >= 0:
                return line + block.count(b"\n", 0, at)
            line += block.count(b"\n")
    return None


def _read_table(path: Path) -> pd.DataFrame:
    if path.is_dir():
        raise MRDError(f"{path}: is a folder; --trials needs a CSV file with one row per trial")
    if not path.exists():
        raise MRDError(f"{path}: no such trials table")
    try:
        nul = _nul_line(path)
    except OSError as exc:
        raise MRDError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if nul is not None:
        raise MRDError(
            f"{path}: line {nul} holds a NUL byte (\\0); not a text CSV (a binary file, or a damaged copy)"
        )
    try:
        raw = pd.read_csv(path, low_memory=False)
    except pd.errors.EmptyDataError:
        raise MRDError(f"{path}: is empty; a trials table needs a header row and one row per trial") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise MRDError(f"{path}: not a readable CSV ({exc})") from exc
    if len(raw) == 0:
        raise MRDError(f"{path}: has a header but no trial rows")
    return raw


def _no_empty(values: pd.Series, path: Path, column: str) -> None:
    empty = values.isna().to_numpy()
    if empty.any():
        raise MRDError(f"{path}: column {column!r} is empty in row {_row(empty)}; every trial needs a value")


def _joined(raw: pd.DataFrame, cols: list[str]) -> pd.Series:
    out = raw[cols[0]].astype(str)
    for col in cols[1:]:
        out = out + " / " + raw[col].astype(str)
    return out


def _distance(values: pd.Series, path: Path, column: str) -> np.ndarray:
    """A finite, non-negative number per row, or :class:`MRDError` naming row and value."""
    num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(num)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MRDError(
            f"{path}: column {column!r} has value {show(values.iat[i])} in row {i + 2}; --x-col needs a finite number "
            "per trial (a stimulus difference >= 0)"
        )
    neg = num < 0
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise MRDError(
            f"{path}: column {column!r} has value {show(values.iat[i])} in row {i + 2}; a stimulus difference "
            "cannot be negative (0 = identical; larger = more different)"
        )
    return num


def load_trials_table(
    csv: str | os.PathLike[str],
    participant_col: str = "participant",
    item_cols: str | Sequence[str] = "item",
    condition_cols: str | Sequence[str] | None = "condition",
    correct_col: str = "correct",
    group_col: str | None = None,
    x_col: str | None = None,
) -> LoadedData:
    """Load a plain tidy table of oddity trials (one row per trial), without a stimulus set.

    Parameters
    ----------
    csv : path-like
        The table.
    participant_col : str
        Column identifying the participant.
    item_cols : str or sequence of str
        Column(s) identifying the item (joined with ``" / "`` when several).
    condition_cols : str or sequence of str, optional
        Column(s) whose combination is the condition (e.g. model and presentation).
    correct_col : str
        0/1 correctness.
    group_col : str, optional
        Column used as ``group`` for per-group fits; default: the condition.
    x_col : str, optional
        A numeric stimulus difference (larger = more different) used as ``distance``.

    Returns
    -------
    LoadedData
        Every row is analysed.

    Raises
    ------
    stimuli.errors.MRDError
        For a folder, an empty or binary (NUL) file, a missing column, an empty id cell, a correctness
        other than 0/1, or a distance that is not a finite number >= 0, naming file, column, row and value.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("subject,image,model,correct\\nA,x,m1,1\\nA,y,m1,0\\nB,x,m2,1\\n")
    >>> d = load_trials_table(p, "subject", "image", "model")
    >>> d.trials[["participant", "item", "condition", "correct"]].values.tolist()
    [['A', 'x', 'm1', 1], ['A', 'y', 'm1', 0], ['B', 'x', 'm2', 1]]
    """
    path = Path(csv)
    raw = _read_table(path)
    items, conds = _as_list(item_cols), _as_list(condition_cols)
    wanted = [participant_col, correct_col, *items, *conds] + [c for c in (group_col, x_col) if c]
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise MRDError(
            f"{path}: column(s) {', '.join(map(repr, missing))} not found; the table has "
            f"{', '.join(map(str, raw.columns))}. Map them with --participant-col/--item-col/--condition-col/"
            "--correct-col"
        )
    for col in dict.fromkeys([participant_col, *items, *conds] + ([group_col] if group_col else [])):
        _no_empty(raw[col], path, col)
    df = raw.copy()
    df["participant"] = raw[participant_col].astype(str)
    df["item"] = _joined(raw, items)
    df["condition"] = _joined(raw, conds) if conds else "all"
    df["group"] = raw[group_col].astype(str) if group_col else df["condition"]
    df["correct"] = _binary(raw[correct_col], path, correct_col)
    if x_col:
        df["distance"] = _distance(raw[x_col], path, x_col)
    df["analysed"] = True
    sessions = (
        df.groupby("participant", sort=True)
        .agg(n_main=("correct", "size"), pc=("correct", "mean"))
        .reset_index()
    )
    source = {
        "kind": "table",
        "trials": str(path),
        "participant_col": participant_col,
        "item_cols": items,
        "condition_cols": conds,
        "correct_col": correct_col,
        "group_col": group_col,
        "x_col": x_col,
    }
    return LoadedData(df, sessions, None, None, source, conds)
