"""Vision models by name: a config entry (:class:`ModelSpec`) becomes a :class:`LoadedModel`.

A model is any timm architecture by name, a user module ``"package.module:factory"``, or the
pixel baseline ``"pixels"`` / ``"pixels_<size>"`` (:mod:`mrd.models.pixels`).
Layers are named the way timm's ``features_only`` names them (``model.feature_info`` module
names, e.g. ``"blocks.4"`` or ``"layer3"``; computed by timm's feature wrapper) or by any module
path (``"layer3.1.conv2"``; read with forward hooks). Preprocessing (input size, mean/std) comes
from the model's pretrained config. Weights are described in :mod:`mrd.models.weights` and
:mod:`mrd.models.timm_models`. Recommended layers: :data:`DEFAULT_LAYERS`.

A user module is a function ``factory()`` returning ``(module, layer_names)`` where
``module(x)`` returns ``{layer_name: Tensor (B, ...)}`` for a normalised batch ``x``
``(B, 3, H, W)``; the module (or the Python module holding the factory) may define
``input_size = (C, H, W)``, ``mean`` and ``std`` (defaults: 224 px and ImageNet statistics).
See :func:`mrd.models.testing.mean_luminance` for an example.

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

import copy
import dataclasses

import torch
import torch.nn.functional as F

from mrd.models.parts import Extractor
from mrd.models.pixels import build_pixels_model, pixel_size
from mrd.models.spec import DEFAULT_LAYERS, ModelSpec, is_user_module
from stimuli.errors import MRDError
from stimuli.records import ModelRecord


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
    classifier : torch.nn.Module or None
        The whole network (normalised batch -> ImageNet-1k logits) when the model is an ImageNet
        classifier (timm models with 1000 outputs), else None: see :meth:`logits`.
    """

    def __init__(
        self,
        record: ModelRecord,
        module: torch.nn.Module,
        device: torch.device,
        extract: Extractor,
        extraction: str,
        classifier: torch.nn.Module | None = None,
    ) -> None:
        self.record = record
        self.classifier = classifier
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
        >>> m = load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))
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

    def restricted(self, layers: list[str]) -> LoadedModel:
        """The same network giving only ``layers`` (a subset of the recorded ones): per-layer metamers.

        Examples
        --------
        >>> m = load_model(ModelSpec(name="mobilenetv2_100", layers=["blocks.2", "blocks.4"]))
        >>> m.restricted(["blocks.4"]).record.layers, m.record.layers
        (['blocks.4'], ['blocks.2', 'blocks.4'])
        """
        unknown = [name for name in layers if name not in self.record.layers]
        if unknown or not layers:
            raise MRDError(f"model {self.record.model_id}: layers {unknown or layers} are not among {self.record.layers}")
        out = copy.copy(self)
        out.record = dataclasses.replace(self.record, layers=list(layers))
        out.layer_shapes = {k: self.layer_shapes[k] for k in layers}
        return out

    def logits(self, images: torch.Tensor) -> torch.Tensor | None:
        """ImageNet-1k logits ``(B, 1000)`` of sRGB images, or None when the model is no ImageNet classifier.

        Examples
        --------
        >>> import torch
        >>> m = load_model(ModelSpec(name="resnet18", layers=["layer1"], weights="random"))
        >>> tuple(m.logits(torch.rand(1, 3, 32, 32)).shape)
        (1, 1000)
        >>> load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"])).logits(
        ...     torch.rand(1, 3, 8, 8)) is None
        True
        """
        if self.classifier is None:
            return None
        return self.classifier(self.preprocess(images))

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
    if pixel_size(spec.name) is not None:
        parts = build_pixels_model(spec)
    elif is_user_module(spec.name):
        from mrd.models.user import build_user_model

        parts = build_user_model(spec)
    else:
        from mrd.models.timm_models import build_timm_model

        parts = build_timm_model(spec)
    module = freeze(parts.module).to(dev)
    classifier = None if parts.classifier is None else freeze(parts.classifier).to(dev)
    return LoadedModel(parts.record, module, dev, parts.extract, parts.extraction, classifier)


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
    if pixel_size(name) is not None:
        return ["pixels"]
    if is_user_module(name):
        from mrd.models.user import user_factory_layers

        return user_factory_layers(name)
    from mrd.models.timm_models import feature_names

    return feature_names(name)[-3:]
