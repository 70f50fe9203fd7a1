"""Building blocks of every config model: a strict pydantic base and common field types.

Strict means: unknown fields are refused (typos surface), booleans are not numbers, and numbers
are finite. Every part of the stimulus-set config (:mod:`mrd.config`, the group specs in
:mod:`mrd.groups`) derives from :class:`StrictModel`.

Examples
--------
>>> class Spec(StrictModel):
...     x: float = 1.0
>>> Spec(x=2).x
2.0
>>> Spec(y=1)
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Spec
...
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Color", "Range", "StrictModel", "Unit", "check_range"]


class StrictModel(BaseModel):
    """Pydantic base of config parts: extra fields forbidden, no inf/nan."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_as_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                info = cls.model_fields.get(name)
                if info is not None and _has_bool(value) and "bool" not in str(info.annotation):
                    raise ValueError(f"field '{name}' = {value!r}: true/false given where a number or text belongs")
        return data


def _has_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    return isinstance(value, list) and any(_has_bool(v) for v in value)


Color = Annotated[list[Annotated[float, Field(ge=0.0)]], Field(min_length=3, max_length=3)]
"""An RGB triple of non-negative floats."""
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
"""A float in [0, 1]."""
Range = Annotated[list[float], Field(min_length=2, max_length=2)]
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
