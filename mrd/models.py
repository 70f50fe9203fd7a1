"""Vision models by name: a config entry (:class:`ModelSpec`) becomes a :class:`LoadedModel`.

A model is any timm architecture by name, or a user module ``"package.module:factory"``.
Layers are named the way timm's ``features_only`` names them (``model.feature_info`` module
names, e.g. ``"blocks.4"`` or ``"layer3"``; computed by timm's feature wrapper) or by any module
path (``"layer3.1.conv2"``; read with forward hooks). Preprocessing (input size, mean/std) comes
from the model's pretrained config. Weights are described in :mod:`mrd.weights` and
:mod:`mrd.model_timm`. Recommended layers: :data:`DEFAULT_LAYERS`.

A user module is a function ``factory()`` returning ``(module, layer_names)`` where
``module(x)`` returns ``{layer_name: Tensor (B, ...)}`` for a normalised batch ``x``
``(B, 3, H, W)``; the module (or the Python module holding the factory) may define
``input_size = (C, H, W)``, ``mean`` and ``std`` (defaults: 224 px and ImageNet statistics).
See :func:`mrd.testing_models.mean_luminance` for an example.

Examples
--------
>>> import torch
>>> model = load_model(ModelSpec(name="mobilenetv2_100", layers=["blocks.4", "blocks.6"]))
>>> model.record.weight_sha256[:8], model.record.input_size
('b0353104', (3, 224, 224))
>>> feats = model.features(torch.rand(2, 3, 64, 64))
>>> [tuple(v.shape) for v in feats.values()]
[(2, 96, 14, 14), (2, 320, 7, 7)]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pydantic
import torch
import torch.nn.functional as F

from stimuli.errors import MRDError
from stimuli.records import ModelRecord
from stimuli.schema import check_id

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

Extractor = Callable[[torch.Tensor], dict[str, torch.Tensor]]


@dataclass
class ModelParts:
    """What a builder (:mod:`mrd.model_timm`, :mod:`mrd.model_user`) hands to :func:`load_model`."""

    record: ModelRecord
    module: torch.nn.Module
    extract: Extractor
    extraction: str


def is_user_module(name: str) -> bool:
    """Whether ``name`` refers to a user module (``"package.module:factory"``) rather than timm.

    Examples
    --------
    >>> is_user_module("mrd.testing_models:mean_luminance"), is_user_module("resnet50")
    (True, False)
    """
    return ":" in name and not name.startswith(("hf-hub:", "local-dir:"))


def derive_model_id(name: str) -> str:
    """A store key derived from a model name (invalid characters become ``_``).

    Examples
    --------
    >>> derive_model_id("mrd.testing_models:mean_luminance")
    'mrd.testing_models_mean_luminance'
    >>> derive_model_id("hf-hub:timm/vit_small_patch16_224.augreg_in21k")
    'hf-hub_timm_vit_small_patch16_224.augreg_in21k'
    """
    key = re.sub(r"[^A-Za-z0-9_.\-]", "_", name).lstrip("_.-")[:128]
    return key or "model"


class ModelSpec(pydantic.BaseModel):
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

    model_config = pydantic.ConfigDict(extra="forbid")

    id: str | None = None
    name: str
    layers: list[str]
    weights: str = "default"
    weights_sha256: str | None = None

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


class LoadedModel:
    """A model ready to give activations of named layers for sRGB images.

    Attributes
    ----------
    record : stimuli.records.ModelRecord
        What is stored about the model (name, weights and their sha256, layers, preprocessing).
    module : torch.nn.Module
        The network (eval mode, parameters frozen).
    device : torch.device
        Where it runs.
    extraction : str
        ``"features_only"`` (timm feature wrapper), ``"hooks"`` (forward hooks), ``"features_only+hooks"``
        (both, two passes) or ``"module"`` (user module).
    layer_shapes : dict of str to tuple
        Activation shape (without batch) of each layer at the model's input size.
    """

    def __init__(
        self,
        record: ModelRecord,
        module: torch.nn.Module,
        device: torch.device,
        extract: Extractor,
        extraction: str,
    ) -> None:
        self.record = record
        self.module = module
        self.device = device
        self.extraction = extraction
        self._extract = extract
        self._mean = torch.tensor(record.mean, device=device).view(1, 3, 1, 1)
        self._std = torch.tensor(record.std, device=device).view(1, 3, 1, 1)
        with torch.no_grad():
            probe = self.features(torch.zeros((1, 3, *record.input_size[1:]), device=device))
        self.layer_shapes = {k: tuple(v.shape[1:]) for k, v in probe.items()}

    def _dtype(self, images: torch.Tensor) -> torch.dtype:
        p = next(self.module.parameters(), None)
        return p.dtype if p is not None and p.is_floating_point() else images.dtype

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Resize (bilinear, antialiased) to the input size and normalise with mean/std.

        Parameters
        ----------
        images : torch.Tensor
            ``(B, 3, H, W)`` sRGB-encoded values in ``[0, 1]``.

        Examples
        --------
        >>> import torch
        >>> m = load_model(ModelSpec(name="mrd.testing_models:mean_luminance", layers=["luminance"]))
        >>> tuple(m.preprocess(torch.rand(1, 3, 10, 10)).shape)
        (1, 3, 32, 32)
        """
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise MRDError(f"model {self.record.model_id}: images must be a (B, 3, H, W) tensor, got {shape}")
        if not images.is_floating_point():
            raise MRDError(
                f"model {self.record.model_id}: images must be float in [0, 1], got {images.dtype}"
            )
        dtype = self._dtype(images)
        x = images.to(device=self.device, dtype=dtype)
        size = tuple(self.record.input_size[1:])
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        return (x - self._mean.to(dtype)) / self._std.to(dtype)

    def features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Activations of the recorded layers; differentiable w.r.t. ``images``.

        Parameters
        ----------
        images : torch.Tensor
            ``(B, 3, H, W)`` float sRGB-encoded values in ``[0, 1]`` (any H, W).

        Returns
        -------
        dict of str to torch.Tensor
            ``{layer: (B, ...)}`` in the order of ``record.layers``.

        Examples
        --------
        >>> import torch
        >>> m = load_model(ModelSpec(name="resnet18", layers=["layer1"], weights="random"))
        >>> tuple(m.features(torch.rand(1, 3, 32, 32))["layer1"].shape)
        (1, 64, 56, 56)
        """
        out = self._extract(self.preprocess(images))
        missing = [name for name in self.record.layers if name not in out]
        if missing:
            raise MRDError(
                f"model {self.record.model_id}: layers {missing} produced no output in a forward pass; "
                f"outputs were {sorted(out)}"
            )
        for name in self.record.layers:
            if not isinstance(out[name], torch.Tensor):
                raise MRDError(
                    f"model {self.record.model_id}: layer {name!r} outputs a {type(out[name]).__name__}, "
                    "not a tensor; choose another layer (e.g. a submodule of it)"
                )
        return {name: out[name] for name in self.record.layers}

    def __repr__(self) -> str:
        r = self.record
        return f"LoadedModel({r.model_id!r}, name={r.name!r}, layers={r.layers}, source={r.source!r})"


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``"cpu"``, ``"cuda"``, ``"cuda:1"`` into a usable :class:`torch.device`.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise MRDError(f"device {device!r} is not valid; use 'cpu' or 'cuda[:N]' ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise MRDError(f"device {device!r}: CUDA is not available on this machine; use 'cpu'")
    return dev


def freeze(module: torch.nn.Module) -> torch.nn.Module:
    """Eval mode, no parameter gradients, and no in-place activations (so hooked outputs stay intact).

    Examples
    --------
    >>> import torch
    >>> m = freeze(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(inplace=True)))
    >>> m.training, m[0].weight.requires_grad, m[1].inplace
    (False, False, False)
    """
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    for m in module.modules():
        if isinstance(getattr(m, "inplace", None), bool):
            m.inplace = False
    return module


def load_model(spec: ModelSpec, device: str | torch.device = "cpu") -> LoadedModel:
    """Build the model a spec describes, with its weights, layers and preprocessing.

    Parameters
    ----------
    spec : ModelSpec
        Name, layers and weights.
    device : str or torch.device
        Where to run the model.

    Returns
    -------
    LoadedModel

    Raises
    ------
    MRDError
        For an unknown model or layer name (the valid ones are listed), weights that cannot be
        obtained, or a weight file whose sha256 or tensors do not fit.

    Examples
    --------
    >>> m = load_model(ModelSpec(name="resnet18", layers=["layer3.1.conv2"], weights="random"))
    >>> m.record.source, m.extraction, m.layer_shapes["layer3.1.conv2"]
    ('random', 'hooks', (256, 14, 14))
    """
    dev = resolve_device(device)
    if is_user_module(spec.name):
        from mrd.model_user import build_user_model

        parts = build_user_model(spec)
    else:
        from mrd.model_timm import build_timm_model

        parts = build_timm_model(spec)
    module = freeze(parts.module).to(dev)
    return LoadedModel(parts.record, module, dev, parts.extract, parts.extraction)


def default_layers(name: str) -> list[str]:
    """Layers to use when none are given: :data:`DEFAULT_LAYERS`, a user factory's own list, or
    the last three ``feature_info`` stages of a timm model.

    Examples
    --------
    >>> default_layers("mobilenetv2_100")
    ['blocks.2', 'blocks.4', 'blocks.6']
    >>> default_layers("resnet34")
    ['layer2', 'layer3', 'layer4']
    """
    if name in DEFAULT_LAYERS:
        return list(DEFAULT_LAYERS[name])
    if is_user_module(name):
        from mrd.model_user import user_factory_layers

        return user_factory_layers(name)
    from mrd.model_timm import feature_names

    return feature_names(name)[-3:]
