"""Per item, per participant and per condition summaries: n, proportion correct, Wilson CI, d' with CI.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"item": ["a", "a", "a", "b"], "correct": [1, 1, 0, 1]})
>>> summarize(t, ["item"])[["item", "n", "k", "pc"]].round(3).values.tolist()
[['a', 3, 2, 0.667], ['b', 1, 1, 1.0]]
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence

import pandas as pd

from analysis.oddity import binomial_ci, dprime_from_counts


def natural_key(value: object) -> tuple:
    """Sort key that orders ``S2`` before ``S10`` (digit runs compare as numbers).

    Examples
    --------
    >>> sorted(["S10", "S2", "CF", "S1"], key=natural_key)
    ['CF', 'S1', 'S2', 'S10']
    """
    if isinstance(value, numbers.Number) and not isinstance(value, bool) and not pd.isna(value):
        return (0, float(value))
    parts = re.split(r"(\d+)", str(value))
    return (1, tuple(int(p) if i % 2 else p for i, p in enumerate(parts)))


def natural_sort(df: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Rows of ``df`` sorted naturally on the ``by`` columns (index reset).

    Examples
    --------
    >>> natural_sort(pd.DataFrame({"p": ["S10", "S9"]}), ["p"])["p"].tolist()
    ['S9', 'S10']
    """
    by = [c for c in by if c in df]
    if not by or len(df) == 0:
        return df.reset_index(drop=True)
    cols = [df[c].tolist() for c in by]
    order = sorted(range(len(df)), key=lambda r: tuple(natural_key(col[r]) for col in cols))
    return df.iloc[order].reset_index(drop=True)


def condition_keys(trials: pd.DataFrame, condition_cols: Sequence[str] = ()) -> list[str]:
    """Columns that identify a condition: ``group``, each condition column (and ``model_id`` for session
    data) separately, then the joined ``condition`` label.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["a"], "presentation": ["x"], "condition": ["a / x"], "group": ["a / x"]})
    >>> condition_keys(t, ["model", "presentation"])
    ['group', 'model', 'presentation', 'condition']
    """
    keys = []
    if "group" in trials:
        keys.append("group")
    for c in (*condition_cols, "model_id"):
        if c in trials and c not in keys and c not in ("condition", "group", "participant", "item"):
            keys.append(c)
    if "condition" in trials:
        keys.append("condition")
    return keys


def summarize(
    trials: pd.DataFrame,
    by: Sequence[str],
    level: float = 0.95,
    method: str = "wilson",
    extra: dict[str, tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Summarise correctness over groups of trials.

    Parameters
    ----------
    trials : pandas.DataFrame
        Needs a 0/1 ``correct`` column and the ``by`` columns.
    by : sequence of str
        Grouping columns.
    level : float
        Confidence level of the intervals.
    method : {"wilson", "clopper-pearson"}
        Binomial interval; d' intervals are its bounds mapped through the oddity model.
    extra : dict, optional
        Further aggregations, ``{name: (column, func)}`` as for :meth:`pandas.DataFrame.agg`.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``n``, ``k`` (correct), ``pc``, ``pc_lo``, ``pc_hi``, ``dprime``,
        ``dprime_lo``, ``dprime_hi`` and any ``extra`` columns.
    """
    by = list(by)
    aggs = {"n": ("correct", "size"), "k": ("correct", "sum")}
    aggs.update(extra or {})
    out = trials.groupby(by, sort=True, observed=True, dropna=False).agg(**aggs).reset_index()
    n, k = out["n"].to_numpy(float), out["k"].to_numpy(float)
    out["pc"] = k / n
    out["pc_lo"], out["pc_hi"] = binomial_ci(k, n, level=level, method=method)  # type: ignore[arg-type]
    d, lo, hi = dprime_from_counts(k, n, level=level, method=method)  # type: ignore[arg-type]
    out["dprime"], out["dprime_lo"], out["dprime_hi"] = d, lo, hi
    out["k"] = out["k"].astype(int)
    return natural_sort(out, by)


def per_item(trials: pd.DataFrame, condition_cols: Sequence[str] = (), **kw: object) -> pd.DataFrame:
    """Summary per item (within condition and group), with mean similarity/distance where present.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"item": ["a", "b"], "condition": "c", "group": "g", "correct": [1, 0]})
    >>> per_item(t)["pc"].tolist()
    [1.0, 0.0]
    """
    extra = {c: (c, "mean") for c in ("similarity", "distance") if c in trials}
    by = (
        [*condition_keys(trials, condition_cols), "item"]
        if "item" in trials
        else condition_keys(trials, condition_cols)
    )
    return summarize(trials, by, extra=extra, **kw)  # type: ignore[arg-type]


def per_participant(trials: pd.DataFrame, **kw: object) -> pd.DataFrame:
    """Summary per participant (all analysed trials).

    Examples
    --------
    >>> import pandas as pd
    >>> per_participant(pd.DataFrame({"participant": ["p", "p"], "correct": [1, 0]}))["n"].tolist()
    [2]
    """
    return summarize(trials, ["participant"], **kw)  # type: ignore[arg-type]


def per_condition(trials: pd.DataFrame, condition_cols: Sequence[str] = (), **kw: object) -> pd.DataFrame:
    """Summary per condition (for session data: varied group x model), pooling participants and items.

    Also gives the number of participants and items contributing and the between-participant
    spread (mean and SD of per-participant proportion correct).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"condition": ["c"] * 3, "participant": ["p", "q", "q"], "item": ["a"] * 3,
    ...                   "correct": [1, 0, 1]})
    >>> per_condition(t)[["condition", "n", "n_participants"]].values.tolist()
    [['c', 3, 2]]
    """
    by = condition_keys(trials, condition_cols)
    extra = {"n_participants": ("participant", "nunique"), "n_items": ("item", "nunique")}
    extra.update({c: (c, "mean") for c in ("similarity", "distance") if c in trials})
    out = summarize(trials, by, extra=extra, **kw)  # type: ignore[arg-type]
    pp = trials.groupby([*by, "participant"], observed=True)["correct"].mean().groupby(by, observed=True)
    spread = pd.DataFrame({"participant_pc_mean": pp.mean(), "participant_pc_sd": pp.std()}).reset_index()
    return natural_sort(out.merge(spread, on=by, how="left"), by)


def per_participant_condition(
    trials: pd.DataFrame, condition_cols: Sequence[str] = (), **kw: object
) -> pd.DataFrame:
    """Summary per participant x condition.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"condition": ["c", "c"], "participant": ["p", "q"], "correct": [1, 0]})
    >>> len(per_participant_condition(t))
    2
    """
    by = [*condition_keys(trials, condition_cols), "participant"]
    return summarize(trials, by, **kw)  # type: ignore[arg-type]


def exclusions(trials: pd.DataFrame) -> pd.DataFrame:
    """Counts of trials by role: analysed, practice, catch, missed responses (per participant and total).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"participant": ["p"], "correct": [1], "analysed": [True]})
    >>> exclusions(t)["analysed"].tolist()
    [1, 1]
    """
    t = trials
    role = pd.DataFrame(
        {
            "participant": t["participant"],
            "trials": 1,
            "analysed": t["analysed"].astype(int),
            "practice": (t["block_type"] == "practice").astype(int) if "block_type" in t else 0,
            "catch": (t["is_catch"] & (t["block_type"] == "main")).astype(int) if "is_catch" in t else 0,
            "missed": (~t["responded"].astype(bool)).astype(int) if "responded" in t else 0,
            "missed_analysed": ((~t["responded"].astype(bool)) & t["analysed"]).astype(int)
            if "responded" in t
            else 0,
        }
    )
    out = natural_sort(role.groupby("participant", sort=True).sum().reset_index(), ["participant"])
    total = out.drop(columns="participant").sum().to_frame().T
    total.insert(0, "participant", "all")
    return pd.concat([out, total], ignore_index=True).astype(
        {c: int for c in out.columns if c != "participant"}
    )
