"""Target scenes of a config: one :class:`SceneSpec` per ``[[scenes]]`` table.

A scene spec composes the specs of the shipped groups (:mod:`mrd.groups`: shape, material,
lighting), each defined in its group's module.

Examples
--------
>>> SceneSpec(id="ball").material.roughness
0.4
"""

from __future__ import annotations

import re

from pydantic import field_validator

from mrd.groups.lighting import LightingSpec
from mrd.groups.material import MaterialSpec, TextureSpec
from mrd.groups.shape import ShapeSpec
from mrd.specbase import StrictModel, Text

__all__ = ["LightingSpec", "MaterialSpec", "SceneSpec", "ShapeSpec", "TextureSpec"]

class SceneSpec(StrictModel):
    """A target scene."""

    id: Text(64)
    shape: ShapeSpec = ShapeSpec()
    material: MaterialSpec = MaterialSpec()
    lighting: LightingSpec = LightingSpec()

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}", v):
            raise ValueError("use letters, digits, '_' and '-' (start with a letter or digit, at most 64)")
        return v
