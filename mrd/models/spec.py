"""Model specs: one ``[[models]]`` table of a config (pure pydantic; imports no torch).

A model is any timm architecture by name, or a user module ``"package.module:factory"``
(see :mod:`mrd.models.user`). Recommended layers per architecture: :data:`DEFAULT_LAYERS`.

Examples
--------
>>> ModelSpec(name="mobilenetv2_100", layers=["blocks.4"]).model_id
'mobilenetv2_100'
"""

from __future__ import annotations

import re

import pydantic

from stimuli.errors import MRDError
from stimuli.schema import check_id
from stimuli.tomlcheck import StrictModel, Text

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_INPUT_SIZE = (3, 224, 224)

DEFAULT_LAYERS: dict[str, list[str]] = {
    "mobilenetv2_100": ["blocks.2", "blocks.4", "blocks.6"],
    "resnet18": ["layer2", "layer3", "layer4"],
    "resnet50": ["layer2", "layer3", "layer4"],
}
"""Recommended layers (stride 8, 16 and 32 stages) for models used in the shipped configs."""

WEIGHT_KEYWORDS = ("default", "hub", "random")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")

def is_user_module(name: str) -> bool:
    """Whether ``name`` refers to a user module (``"package.module:factory"``) rather than timm.

    Examples
    --------
    >>> is_user_module("mrd.models.testing:mean_luminance"), is_user_module("resnet50")
    (True, False)
    """
    return ":" in name and not name.startswith(("hf-hub:", "local-dir:"))


def derive_model_id(name: str) -> str:
    """A store key derived from a model name (invalid characters become ``_``).

    Examples
    --------
    >>> derive_model_id("mrd.models.testing:mean_luminance")
    'mrd.models.testing_mean_luminance'
    >>> derive_model_id("hf-hub:timm/vit_small_patch16_224.augreg_in21k")
    'hf-hub_timm_vit_small_patch16_224.augreg_in21k'
    """
    key = re.sub(r"[^A-Za-z0-9_.\-]", "_", name).lstrip("_.-")[:128]
    return key or "model"


class ModelSpec(StrictModel):
    """One ``[[models]]`` table of a stimulus-set config.

    Parameters
    ----------
    id : str, optional
        Store key; derived from ``name`` when omitted (see :func:`derive_model_id`).
    name : str
        timm model name, or ``"package.module:factory"`` for a user module.
    layers : list of str
        Layer names: timm ``features_only`` names (``feature_info`` modules) or module paths.
    weights : str
        ``"default"`` (the embedded offline MobileNetV2 weights for ``mobilenetv2_100``, a user
        module's own weights, else ``"hub"``), ``"hub"`` (timm download), ``"random"`` (timm's
        initialisation under a fixed seed) or a path to a ``.safetensors``/``.pth`` state dict.
    weights_sha256 : str, optional
        Expected sha256 of the weight file; a mismatch is refused.

    Examples
    --------
    >>> ModelSpec(name="resnet18", layers=["layer3"], weights="random").model_id
    'resnet18'
    >>> ModelSpec(name="resnet18", layers=[])
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelSpec
    ...
    """

    id: Text(128) | None = None
    name: Text(512)
    layers: list[Text(512)] = pydantic.Field(max_length=256)
    weights: Text(4096) = "default"
    weights_sha256: Text(64) | None = None

    @pydantic.field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must be a timm model name or 'package.module:factory'")
        return v

    @pydantic.field_validator("layers")
    @classmethod
    def _layers(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("must name at least one layer")
        if any(not s.strip() for s in v):
            raise ValueError(f"layer names must be non-empty, got {v}")
        dup = sorted({s for s in v if v.count(s) > 1})
        if dup:
            raise ValueError(f"layer names must be unique; repeated: {dup}")
        return v

    @pydantic.field_validator("weights_sha256")
    @classmethod
    def _sha(cls, v: str | None) -> str | None:
        if v is not None and not _HEX64.match(v):
            raise ValueError(f"must be 64 hexadecimal digits, got {v!r}")
        return None if v is None else v.lower()

    @pydantic.field_validator("id")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                check_id(v, "model id")
            except MRDError as exc:
                raise ValueError(str(exc)) from None
        return v

    @property
    def model_id(self) -> str:
        """The store key: ``id`` if given, else derived from ``name``."""
        return self.id if self.id is not None else derive_model_id(self.name)

