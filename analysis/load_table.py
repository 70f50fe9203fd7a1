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

import pandas as pd

from analysis.load import LoadedData, _binary
from stimuli.errors import MRDError


def _as_list(cols: str | Sequence[str] | None) -> list[str]:
    if cols is None:
        return []
    return [cols] if isinstance(cols, str) else list(cols)


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
    if not path.exists():
        raise MRDError(f"{path}: no such trials table")
    try:
        raw = pd.read_csv(path, low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise MRDError(f"{path}: not a readable CSV ({exc})") from exc
    items, conds = _as_list(item_cols), _as_list(condition_cols)
    wanted = [participant_col, correct_col, *items, *conds] + [c for c in (group_col, x_col) if c]
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise MRDError(
            f"{path}: column(s) {', '.join(map(repr, missing))} not found; the table has "
            f"{', '.join(raw.columns)}. Map them with --participant-col/--item-col/--condition-col/"
            "--correct-col"
        )
    df = raw.copy()
    df["participant"] = raw[participant_col].astype(str)
    df["item"] = raw[items].astype(str).agg(" / ".join, axis=1)
    df["condition"] = raw[conds].astype(str).agg(" / ".join, axis=1) if conds else "all"
    df["group"] = raw[group_col].astype(str) if group_col else df["condition"]
    df["correct"] = _binary(raw[correct_col], path, correct_col)
    if x_col:
        df["distance"] = pd.to_numeric(raw[x_col], errors="coerce")
        if df["distance"].isna().any():
            raise MRDError(f"{path}: column {x_col!r} has non-numeric or empty values; --x-col needs numbers")
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
