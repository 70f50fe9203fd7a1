"""What a model builder (:mod:`mrd.models.timm_models`, :mod:`mrd.models.user`) hands to the loader.

Examples
--------
>>> ModelParts.__dataclass_fields__.keys() >= {"record", "module", "extract", "extraction"}
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from stimuli.records import ModelRecord

Extractor = Callable[[torch.Tensor], dict[str, torch.Tensor]]
"""A function from a normalised batch to ``{layer: activations}``."""


@dataclass
class ModelParts:
    """What a builder (:mod:`mrd.models.timm_models`, :mod:`mrd.models.user`) hands to :func:`load_model`."""

    record: ModelRecord
    module: torch.nn.Module
    extract: Extractor
    extraction: str
    classifier: torch.nn.Module | None = None
    """The whole network, normalised batch -> ImageNet-1k logits, when it is an ImageNet classifier."""

