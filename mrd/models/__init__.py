"""Vision models: specs (:mod:`~mrd.models.spec`, no torch), loading (:mod:`~mrd.models.load`), timm
and user-module builders, weight files, and small test networks (:mod:`~mrd.models.testing`).

Names are exported lazily, so ``from mrd.models import ModelSpec`` imports no torch.

Examples
--------
>>> from mrd.models import ModelSpec
>>> ModelSpec(name="resnet18", layers=["layer3"], weights="random").model_id
'resnet18'
"""

from __future__ import annotations

from stimuli.lazy import lazy_exports

_EXPORTS = {
    "ModelSpec": "mrd.models.spec",
    "DEFAULT_LAYERS": "mrd.models.spec",
    "DEFAULT_INPUT_SIZE": "mrd.models.spec",
    "IMAGENET_MEAN": "mrd.models.spec",
    "IMAGENET_STD": "mrd.models.spec",
    "is_user_module": "mrd.models.spec",
    "derive_model_id": "mrd.models.spec",
    "LoadedModel": "mrd.models.load",
    "load_model": "mrd.models.load",
    "default_layers": "mrd.models.load",
    "resolve_device": "mrd.models.load",
    "freeze": "mrd.models.load",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
