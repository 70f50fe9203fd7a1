"""lme4-style model formulas: the default fixed part, and the split into fixed and random terms.

Used by :mod:`analysis.mixed` (and re-exported there). ``(lhs | group)`` terms are lme4's random
effects; the rest is a patsy formula.

Examples
--------
>>> split_formula("correct ~ x + (1 | participant)")
('correct ~ x', [('1', 'participant')])
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd


def safe_name(name: str) -> str:
    """A column name usable in a patsy formula (non-word characters to ``_``).

    Examples
    --------
    >>> safe_name("trial type")
    'trial_type'
    """
    s = re.sub(r"\W", "_", str(name))
    return s if re.match(r"[A-Za-z_]", s) else f"v_{s}"


def default_formula(trials: pd.DataFrame, condition_cols: Sequence[str] = ()) -> str:
    """The default fixed-effects formula for a trial table.

    ``similarity_z * C(group)`` when a model similarity exists (``distance_z`` for a numeric
    predictor without similarity), dropping ``C(group)`` with a single group; else the full factorial
    of the condition columns; else an intercept.

    Examples
    --------
    >>> import pandas as pd
    >>> default_formula(pd.DataFrame({"similarity": [0.9], "group": ["shape"]}))
    'correct ~ similarity_z'
    >>> t = pd.DataFrame({"model": ["a", "b"], "presentation": ["x", "y"]})
    >>> default_formula(t, ["model", "presentation"])
    'correct ~ C(model) * C(presentation)'
    """
    for col in ("similarity", "distance"):
        if col in trials and trials[col].notna().any():
            many = "group" in trials and trials["group"].nunique() > 1
            return f"correct ~ {col}_z * C(group)" if many else f"correct ~ {col}_z"
    conds = [c for c in condition_cols if c in trials and trials[c].nunique() > 1]
    if conds:
        return "correct ~ " + " * ".join(f"C({safe_name(c)})" for c in conds)
    return "correct ~ 1"


_BAR = re.compile(r"\(([^()|]*(?:\([^()]*\)[^()|]*)*)\|\s*([^()|]+?)\s*\)")


def split_formula(formula: str) -> tuple[str, list[tuple[str, str]]]:
    """Split an lme4-style formula into its fixed part and ``(lhs, group)`` random terms.

    Examples
    --------
    >>> split_formula("correct ~ C(m) * x + (1 + x | participant) + (1 | item)")
    ('correct ~ C(m) * x', [('1 + x', 'participant'), ('1', 'item')])
    """
    terms = [(lhs.strip(), grp.strip()) for lhs, grp in _BAR.findall(formula)]
    fixed = _BAR.sub("", formula)
    fixed = re.sub(r"(\+\s*)+$", "", re.sub(r"\+\s*(?=\+)", "", fixed).strip()).strip()
    fixed = re.sub(r"~\s*\+", "~ ", fixed)
    return re.sub(r"\s+", " ", fixed), terms


def parse_random(spec: str) -> tuple[str, str]:
    """``"participant"`` -> ``("1", "participant")``; ``"(1 + x | item)"`` -> ``("1 + x", "item")``.

    Examples
    --------
    >>> parse_random("1 + presentation | item")
    ('1 + presentation', 'item')
    """
    s = spec.strip()
    if s.startswith("(") and s.endswith(")"):
        s = s[1:-1]
    if "|" not in s:
        return "1", s.strip()
    lhs, grp = s.rsplit("|", 1)
    return lhs.strip() or "1", grp.strip()
