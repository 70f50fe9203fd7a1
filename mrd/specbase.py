"""Building blocks of every part of the stimulus-set config, on the suite's one TOML-validation
toolkit (:mod:`stimuli.tomlcheck`): a strict base model and the common field types.

Strict means: unknown fields are refused (typos surface), booleans are not numbers, numbers are
finite and inside stated physical bounds, strings have length limits. Every part of the config
(:mod:`mrd.config`, the group specs in :mod:`mrd.groups`) derives from :class:`StrictModel`.

Examples
--------
>>> class Spec(StrictModel):
...     x: Number(ge=0, le=10) = 1.0
>>> Spec(x=2).x
2.0
>>> from stimuli.tomlcheck import validate
>>> validate(Spec, {"x": True}, "c.toml")
Traceback (most recent call last):
...
stimuli.errors.MRDError: c.toml: invalid config
  field 'x' = True: a boolean is not a number; give a number >= 0 and <= 10
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from stimuli.tomlcheck import Flag, Integer, Number, StrictModel, Text

__all__ = ["MAX_RADIANCE", "Color", "Flag", "Integer", "Number", "Range", "StrictModel", "Text", "Unit", "check_range"]

MAX_RADIANCE = 1e6
"""Upper bound of any radiance or intensity value (a physical scene; larger is a typo)."""

Color = Annotated[list[Number(ge=0.0, le=MAX_RADIANCE)], Field(min_length=3, max_length=3)]
"""An RGB triple of non-negative finite floats (radiances up to :data:`MAX_RADIANCE`)."""
Unit = Number(ge=0.0, le=1.0)
"""A float in [0, 1]."""
Range = Annotated[list[Number(ge=-1e6, le=1e6)], Field(min_length=2, max_length=2)]
"""``[low, high]``; check bounds with :func:`check_range`."""


def check_range(v: list[float], lo: float, hi: float | None = None) -> list[float]:
    """Check ``[low, high]`` with ``lo <= low <= high (<= hi)``; raise ``ValueError`` otherwise.

    Examples
    --------
    >>> check_range([0.1, 0.5], 0.0, 1.0)
    [0.1, 0.5]
    """
    if not (lo <= v[0] <= v[1] and (hi is None or v[1] <= hi)):
        allowed = f"[{lo}, {hi}]" if hi is not None else f"values >= {lo}"
        raise ValueError(f"must be [low, high] with low <= high inside {allowed}")
    return v
