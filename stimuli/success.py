"""The success rule of a metamer and the ``criterion`` attribute that records its numbers.

A metamer made under schema 1.1 stores, next to its ``success`` flag, the numbers the flag was decided
from (attribute ``criterion``, a JSON object):

``oddity_pc`` (float)
    proportion correct of the generating model used as an oddity observer on triplets of independent
    renders (two of one scene, one of the other); near 1/3 means the model cannot tell them apart.
``oddity_pc_max`` (float)
    the largest ``oddity_pc`` that still counts as a metamer.
``null_p`` (float)
    empirical p-value of the metamer's distance to the target against the null draws.
``null_alpha`` (float)
    the largest ``null_p`` that counts.
``beats_start`` (bool)
    whether the metamer is closer to the target than the start of its optimisation.

and ``success == (oddity_pc <= oddity_pc_max and null_p <= null_alpha and beats_start)``. The writer
refuses a record whose flag disagrees; the validator reports a stored one.

Examples
--------
>>> c = {"oddity_pc": 0.35, "oddity_pc_max": 0.4, "null_p": 0.001, "null_alpha": 0.01, "beats_start": True}
>>> success_rule(check_criterion(c, "metamer 'm0'"))
True
>>> success_rule(dict(c, beats_start=False))
False
"""

from __future__ import annotations

import math
from typing import Any

from stimuli.errors import MRDError

CRITERION_FLOATS = ("oddity_pc", "oddity_pc_max", "null_p", "null_alpha")
CRITERION_KEYS = (*CRITERION_FLOATS, "beats_start")


def check_criterion(value: Any, what: str) -> dict[str, Any]:
    """Return ``value`` as a criterion dict, or raise :class:`MRDError` naming what is wrong.

    The four numbers must be finite real numbers in ``[0, 1]`` (booleans are not numbers) and
    ``beats_start`` a boolean; no other keys are allowed.

    Examples
    --------
    >>> check_criterion({"oddity_pc": 0.3}, "metamer 'm0'")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: metamer 'm0': criterion lacks oddity_pc_max, null_p, null_alpha, beats_start; it needs oddity_pc, oddity_pc_max, null_p, null_alpha, beats_start
    """
    if not isinstance(value, dict):
        raise MRDError(f"{what}: criterion must be a JSON object, got {type(value).__name__}")
    missing = [k for k in CRITERION_KEYS if k not in value]
    if missing:
        raise MRDError(f"{what}: criterion lacks {', '.join(missing)}; it needs {', '.join(CRITERION_KEYS)}")
    extra = sorted(set(value) - set(CRITERION_KEYS))
    if extra:
        raise MRDError(f"{what}: criterion has unknown key(s) {', '.join(map(repr, extra))}; "
                       f"expected {', '.join(CRITERION_KEYS)}")
    out: dict[str, Any] = {}
    for key in CRITERION_FLOATS:
        v = value[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not 0 <= v <= 1:
            raise MRDError(f"{what}: criterion {key} = {v!r}; expected a finite number in [0, 1]")
        out[key] = float(v)
    if not isinstance(value["beats_start"], bool):
        raise MRDError(f"{what}: criterion beats_start = {value['beats_start']!r}; expected true or false")
    out["beats_start"] = value["beats_start"]
    return out


def success_rule(criterion: dict[str, Any]) -> bool:
    """``oddity_pc <= oddity_pc_max and null_p <= null_alpha and beats_start``."""
    return bool(
        criterion["oddity_pc"] <= criterion["oddity_pc_max"]
        and criterion["null_p"] <= criterion["null_alpha"]
        and criterion["beats_start"]
    )
