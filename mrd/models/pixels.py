"""The pixel baseline: a "model" whose one layer ``"pixels"`` is the image itself.

The sRGB display values in ``[0, 1]``, resized (bilinear, antialiased, as for every model) to the
input size and not normalised (mean 0, std 1): ``(B, 3, S, S)``. A metamer under it matches the
image, so it separates a model's invariance from ambiguity already present in the images: scenes
that differ physically but give near-identical images are "metamers" of pixels too. Compare it
with ``rel_l2`` (its values are all positive, so uncentred cosine is close to 1 for any two images).

In a config::

    [[models]]
    name = "pixels"        # 64 x 64; "pixels_128" for 128 x 128 (any size 8 to 1024)
    layers = ["pixels"]

(the user-module path ``"mrd.models.pixels:pixels"`` gives the same 64 px model).

Examples
--------
>>> import torch
>>> from mrd.models import ModelSpec, load_model
>>> m = load_model(ModelSpec(name="pixels", layers=["pixels"]))
>>> x = torch.rand(2, 3, 64, 64)
>>> bool(torch.equal(m.features(x)["pixels"], x)), m.record.input_size
(True, (3, 64, 64))
"""

from __future__ import annotations

import re

import torch

from mrd.models.parts import ModelParts
from mrd.models.spec import ModelSpec
from stimuli.errors import MRDError
from stimuli.records import ModelRecord

LAYER = "pixels"
DEFAULT_SIZE = 64
"""Input size of ``"pixels"``: the demo's render resolution."""
SIZE_RANGE = (8, 1024)
_NAME = re.compile(r"^pixels(?:_(\d+))?$")


def pixel_size(name: str) -> int | None:
    """The input size a pixel-model name asks for, or None if ``name`` is not one.

    Examples
    --------
    >>> pixel_size("pixels"), pixel_size("pixels_128"), pixel_size("resnet18")
    (64, 128, None)
    """
    match = _NAME.match(name)
    if match is None:
        return None
    return DEFAULT_SIZE if match.group(1) is None else int(match.group(1))


class Pixels(torch.nn.Module):
    """The identity on a normalised batch: ``{"pixels": x}`` (``x`` is ``(B, 3, S, S)``).

    Examples
    --------
    >>> Pixels(16).input_size
    (3, 16, 16)
    """

    mean = (0.0, 0.0, 0.0)
    std = (1.0, 1.0, 1.0)

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        super().__init__()
        lo, hi = SIZE_RANGE
        if not lo <= int(size) <= hi:
            raise MRDError(f"pixels model: input size {size} must lie in [{lo}, {hi}]")
        self.input_size = (3, int(size), int(size))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"pixels": x}``."""
        return {LAYER: x}


def pixels() -> tuple[torch.nn.Module, list[str]]:
    """User-module factory ``"mrd.models.pixels:pixels"``: the 64 px pixel model.

    Examples
    --------
    >>> pixels()[1]
    ['pixels']
    """
    return Pixels(DEFAULT_SIZE), [LAYER]


def build_pixels_model(spec: ModelSpec) -> ModelParts:
    """Build the pixel model a spec named ``"pixels"`` or ``"pixels_<size>"`` describes.

    Raises
    ------
    MRDError
        For another layer than ``"pixels"``, a weight file, or a size outside :data:`SIZE_RANGE`.

    Examples
    --------
    >>> parts = build_pixels_model(ModelSpec(name="pixels_32", layers=["pixels"]))
    >>> parts.record.input_size, parts.record.source, parts.extraction
    ((3, 32, 32), 'module', 'module')
    """
    size = pixel_size(spec.name)
    if size is None:
        raise MRDError(f"model {spec.name!r} is not a pixel model; name it 'pixels' or 'pixels_<size>'")
    if spec.layers != [LAYER]:
        raise MRDError(
            f"model {spec.name!r}: field 'layers' = {spec.layers}; the pixel model has one layer, ['pixels']"
        )
    if spec.weights != "default" or spec.weights_sha256 is not None:
        raise MRDError(f"model {spec.name!r}: field 'weights' = {spec.weights!r}; the pixel model has no weights "
                       "(leave 'weights' and 'weights_sha256' out)")  # fmt: skip
    module = Pixels(size)
    record = ModelRecord(
        model_id=spec.model_id, name=spec.name, source="module", weight_source="builtin pixel model",
        weight_sha256="", layers=[LAYER], input_size=module.input_size, mean=Pixels.mean, std=Pixels.std,
    )  # fmt: skip
    return ModelParts(record, module, module, "module")
