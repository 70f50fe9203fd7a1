"""User modules as models: ``name = "package.module:factory"`` in a config.

``factory()`` returns ``(module, layer_names)``: a :class:`torch.nn.Module` whose
``forward(x)`` returns ``{layer_name: Tensor (B, ...)}`` for a normalised batch ``x``
``(B, 3, H, W)``, and the list of layer names it provides. Preprocessing is read from attributes
``input_size`` ``(C, H, W)``, ``mean`` and ``std``, looked up on the returned module first, then
on the Python module that holds the factory; defaults are 224 px and ImageNet statistics.
Weights: the module's own (``weights = "default"``) or a state dict file loaded into it.

Examples
--------
>>> from mrd.models import ModelSpec
>>> parts = build_user_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))
>>> parts.record.source, parts.record.input_size, parts.record.mean
('module', (3, 32, 32), (0.0, 0.0, 0.0))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from mrd.models import weights as W
from mrd.models.parts import ModelParts
from mrd.models.spec import DEFAULT_INPUT_SIZE, IMAGENET_MEAN, IMAGENET_STD, ModelSpec
from stimuli.errors import MRDError
from stimuli.records import ModelRecord


def _import_factory(name: str) -> tuple[ModuleType, Callable[[], Any]]:
    modname, _, factname = name.partition(":")
    if not modname or not factname:
        raise MRDError(f"model {name!r}: a user module is named 'package.module:factory'")
    try:
        pymod = importlib.import_module(modname)
    except ImportError as exc:
        raise MRDError(f"model {name!r}: cannot import {modname!r} ({exc}); is it on PYTHONPATH?") from None
    factory = getattr(pymod, factname, None)
    if not callable(factory):
        found = sorted(k for k, v in vars(pymod).items() if callable(v) and not k.startswith("_"))
        raise MRDError(f"model {name!r}: {modname} has no callable {factname!r}; callables there: {found}")
    return pymod, factory


def _call_factory(name: str) -> tuple[ModuleType, torch.nn.Module, list[str]]:
    pymod, factory = _import_factory(name)
    result = factory()
    if (
        not isinstance(result, Sequence)
        or len(result) != 2
        or not isinstance(result[0], torch.nn.Module)
        or not isinstance(result[1], Sequence)
        or not result[1]
        or not all(isinstance(s, str) for s in result[1])
    ):
        raise MRDError(
            f"model {name!r}: factory() must return (torch.nn.Module, [layer names]), "
            f"got {type(result).__name__}"
        )
    return pymod, result[0], list(result[1])


def user_factory_layers(name: str) -> list[str]:
    """The layer names a user factory declares.

    Examples
    --------
    >>> user_factory_layers("mrd.models.testing:mean_luminance")
    ['luminance']
    """
    return _call_factory(name)[2]


def _attr(name: str, module: torch.nn.Module, pymod: ModuleType, key: str, default: tuple, n: int) -> tuple:
    value = getattr(module, key, None)
    if value is None:
        value = getattr(pymod, key, default)
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        out = ()
    if len(out) != n:
        raise MRDError(f"model {name!r}: attribute {key} = {value!r} must be {n} numbers")
    return out


def build_user_model(spec: ModelSpec) -> ModelParts:
    """Build a user module model from ``spec`` (see the module docstring for the contract).

    Examples
    --------
    >>> from mrd.models import ModelSpec
    >>> build_user_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"])).extraction
    'module'

    Raises
    ------
    MRDError
        If the factory cannot be imported or called, returns the wrong things, or lacks a layer.
    """
    pymod, module, names = _call_factory(spec.name)
    unknown = [layer for layer in spec.layers if layer not in names]
    if unknown:
        raise MRDError(
            f"model {spec.name!r}: unknown layers {unknown} in field 'layers'; the factory provides {names}"
        )
    size = _attr(spec.name, module, pymod, "input_size", DEFAULT_INPUT_SIZE, 3)
    if size[0] != 3 or any(v < 1 or v != int(v) for v in size):
        raise MRDError(f"model {spec.name!r}: input_size {size} must be (3, H, W) with positive integers")
    mean = _attr(spec.name, module, pymod, "mean", IMAGENET_MEAN, 3)
    std = _attr(spec.name, module, pymod, "std", IMAGENET_STD, 3)
    if any(s <= 0 for s in std):
        raise MRDError(f"model {spec.name!r}: std {std} must be positive")
    if spec.weights == "default":
        if spec.weights_sha256 is not None:
            raise MRDError(f"model {spec.name!r}: weights_sha256 needs a weight file path in 'weights'")
        source, label, sha = "module", f"module {spec.name}", ""
    elif spec.weights in ("hub", "random"):
        raise MRDError(
            f"model {spec.name!r}: weights = {spec.weights!r} is for timm models; a user module uses its own "
            "weights ('default') or a state dict file path"
        )
    else:
        path = Path(spec.weights).expanduser().resolve()
        sha = W.verify_sha256(path, spec.weights_sha256)
        state, _how = W.map_state_dict(
            W.read_state_dict(path), module, what=f"weight file {path} for {spec.name}"
        )
        module.load_state_dict(state, strict=True)
        source, label = "weights-file", str(path)
    record = ModelRecord(
        model_id=spec.model_id,
        name=spec.name,
        source=source,
        weight_source=label,
        weight_sha256=sha,
        layers=list(spec.layers),
        input_size=(3, int(size[1]), int(size[2])),
        mean=mean,
        std=std,
    )

    def extract(x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = module(x)
        if not isinstance(out, dict):
            raise MRDError(
                f"model {spec.name!r}: forward(x) must return a dict of tensors, got {type(out).__name__}"
            )
        return out

    return ModelParts(record, module, extract, "module")
