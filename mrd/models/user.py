"""User modules as models: ``name = "package.module:factory"`` in a config.

``factory()`` returns ``(module, layer_names)``: a :class:`torch.nn.Module` whose
``forward(x)`` returns ``{layer_name: Tensor (B, ...)}`` for a normalised batch ``x``
``(B, 3, H, W)``, and the list of layer names it provides. Preprocessing is read from attributes
``input_size`` ``(C, H, W)``, ``mean`` and ``std``, looked up on the returned module first, then
on the Python module that holds the factory; defaults are 224 px and ImageNet statistics.
Weights: the module's own (``weights = "default"``) or a state dict file loaded into it.

A config is a script: naming a module imports it, which runs its code, and then calls the factory.
Only run configs you trust. What can be checked is checked, with an error naming the model id and
the ``[[models]] name`` field: a name that is not ``package.module:factory``, a module whose import
fails, a class, a built-in function (``os:system``, ``builtins:eval``, ``os:abort``) or a function
that needs arguments is refused before anything is called; a factory that raises or returns
something other than ``(torch.nn.Module, [layer names])``, and a forward pass that fails or returns
something other than ``{layer: finite (B, ...) tensor}``, give a clear error. What the module's own
code does (``os.abort()``, ``os._exit``, deleting files) cannot be stopped from inside the process.
Reading a store never imports a module named in it.

Examples
--------
>>> from mrd.models import ModelSpec
>>> parts = build_user_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))
>>> parts.record.source, parts.record.input_size, parts.record.mean
('module', (3, 32, 32), (0.0, 0.0, 0.0))
"""

from __future__ import annotations

import importlib
import inspect
import math
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from mrd.models import weights as W
from mrd.models.parts import ModelParts
from mrd.models.spec import DEFAULT_INPUT_SIZE, IMAGENET_MEAN, IMAGENET_STD, ModelSpec, derive_model_id
from stimuli.errors import MRDError
from stimuli.records import ModelRecord


def _where(name: str, model_id: str | None = None) -> str:
    """How errors name a user model: its id and the config field that names it."""
    return f"model {model_id or derive_model_id(name)!r} ([[models]] name = {name!r})"


def _failure(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0][:300] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _import_factory(name: str, where: str) -> tuple[ModuleType, Callable[[], Any]]:
    modname, _, factname = name.partition(":")
    if not modname or not factname or not all(p.isidentifier() for p in (*modname.split("."), *factname.split("."))):
        raise MRDError(f"{where}: a user module is named 'package.module:factory' (Python names joined by dots)")
    try:
        pymod = importlib.import_module(modname)
    except ImportError as exc:
        raise MRDError(f"{where}: cannot import {modname!r} ({exc}); is it on PYTHONPATH?") from None
    except (Exception, SystemExit) as exc:  # the module's own code failed while it was imported
        raise MRDError(f"{where}: importing {modname!r} failed ({_failure(exc)})") from None
    factory: Any = pymod
    for part in factname.split("."):
        factory = getattr(factory, part, None)
    if not callable(factory):
        found = sorted(k for k, v in vars(pymod).items() if callable(v) and not k.startswith("_"))[:40]
        raise MRDError(f"{where}: {modname} has no callable {factname!r}; callables there: {found}")
    _check_factory(where, name, factory)
    return pymod, factory


def _check_factory(where: str, name: str, factory: Any) -> None:
    """Refuse what cannot be a factory before calling it: classes, built-in functions, and functions
    that need arguments (so ``os:system``, ``builtins:eval`` or ``torch.nn:Linear`` are never called)."""
    real = f"{getattr(factory, '__module__', None) or '?'}.{getattr(factory, '__qualname__', type(factory).__name__)}"
    what = name if real.replace(".", ":", 1) == name else f"{name} ({real})"
    if isinstance(factory, type):
        raise MRDError(
            f"{where}: {what} is a class; name a function that returns (torch.nn.Module, [layer names])"
        )
    if inspect.isbuiltin(factory) or isinstance(factory, (types.BuiltinMethodType, types.MethodWrapperType)):
        raise MRDError(
            f"{where}: {what} is a built-in function, not a model factory; name a Python function "
            "that returns (torch.nn.Module, [layer names])"
        )
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return  # no signature to check (a C-level callable object): calling it is the only test
    try:
        sig.bind()
    except TypeError:
        raise MRDError(
            f"{where}: {what}{sig} needs arguments; a factory is called with none and returns "
            "(torch.nn.Module, [layer names])"
        ) from None


def _call_factory(name: str, model_id: str | None = None) -> tuple[ModuleType, torch.nn.Module, list[str]]:
    where = _where(name, model_id)
    pymod, factory = _import_factory(name, where)
    try:
        result = factory()
    except (Exception, SystemExit) as exc:
        raise MRDError(f"{where}: factory() failed ({_failure(exc)})") from None
    expected = "factory() must return (torch.nn.Module, [layer names])"
    if isinstance(result, torch.nn.Module):
        raise MRDError(f"{where}: {expected}, got only a {type(result).__name__} module (no layer names)")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise MRDError(f"{where}: {expected}, got {_describe(result)}")
    module, layers = result
    if not isinstance(module, torch.nn.Module):
        raise MRDError(f"{where}: {expected}; its first item is {_describe(module)}, not a torch.nn.Module")
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or not layers:
        raise MRDError(f"{where}: {expected}; its second item is {_describe(layers)}, not a non-empty list of names")
    bad = [v for v in layers if not isinstance(v, str) or not v or len(v) > 256]
    if bad:
        raise MRDError(f"{where}: {expected}; layer names must be non-empty strings, got {_describe(bad[0])}")
    return pymod, module, list(layers)


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def user_factory_layers(name: str) -> list[str]:
    """The layer names a user factory declares.

    Examples
    --------
    >>> user_factory_layers("mrd.models.testing:mean_luminance")
    ['luminance']
    """
    return _call_factory(name)[2]


def _attr(where: str, module: torch.nn.Module, pymod: ModuleType, key: str, default: tuple, n: int) -> tuple:
    value = getattr(module, key, None)
    if value is None:
        value = getattr(pymod, key, default)
    try:
        out = tuple(float(v) for v in value if not isinstance(v, bool))
    except (TypeError, ValueError):
        out = ()
    if len(out) != n or not all(math.isfinite(v) for v in out):
        raise MRDError(f"{where}: attribute {key} = {_describe(value)} must be {n} finite numbers")
    return out


MAX_INPUT_SIZE = 4096
"""Largest input height or width a user module may declare (pixels)."""


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
        If the module cannot be imported, the name is not a factory (a class, a built-in, a function
        that needs arguments), the factory fails or returns the wrong things, a layer is missing, or
        the module's forward pass fails or returns something other than ``{layer: (B, ...) tensor}``.
        Every message names the model id and the config field (``[[models]] name``).
    """
    where = _where(spec.name, spec.model_id)
    pymod, module, names = _call_factory(spec.name, spec.model_id)
    unknown = [layer for layer in spec.layers if layer not in names]
    if unknown:
        raise MRDError(f"{where}: unknown layers {unknown} in field 'layers'; the factory provides {names}")
    size = _attr(where, module, pymod, "input_size", DEFAULT_INPUT_SIZE, 3)
    if size[0] != 3 or any(v < 1 or v > MAX_INPUT_SIZE or v != int(v) for v in size[1:]):
        raise MRDError(f"{where}: input_size {size} must be (3, H, W) with integers H, W in 1..{MAX_INPUT_SIZE}")
    mean = _attr(where, module, pymod, "mean", IMAGENET_MEAN, 3)
    std = _attr(where, module, pymod, "std", IMAGENET_STD, 3)
    if any(s <= 0 for s in std):
        raise MRDError(f"{where}: std {std} must be positive")
    if spec.weights == "default":
        if spec.weights_sha256 is not None:
            raise MRDError(f"{where}: weights_sha256 needs a weight file path in 'weights'")
        source, label, sha = "module", f"module {spec.name}", ""
    elif spec.weights in ("hub", "random"):
        raise MRDError(
            f"{where}: weights = {spec.weights!r} is for timm models; a user module uses its own "
            "weights ('default') or a state dict file path"
        )
    else:
        path = Path(spec.weights).expanduser().resolve()
        sha = W.verify_sha256(path, spec.weights_sha256)
        state, _how = W.map_state_dict(W.read_state_dict(path), module, what=f"weight file {path} for {spec.name}")
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
    return ModelParts(record, module, _extractor(where, module, list(spec.layers)), "module")


def _extractor(where: str, module: torch.nn.Module, layers: list[str]) -> Callable[[torch.Tensor], dict]:
    """The forward pass of a user module, with its output checked: a dict with a finite ``(B, ...)``
    floating-point tensor per layer."""

    def extract(x: torch.Tensor) -> dict[str, torch.Tensor]:
        try:
            out = module(x)
        except (Exception, SystemExit) as exc:
            raise MRDError(f"{where}: forward(x) failed on a {tuple(x.shape)} batch ({_failure(exc)})") from None
        if not isinstance(out, dict):
            raise MRDError(f"{where}: forward(x) must return a dict of tensors, got {_describe(out)}")
        for name in layers:
            v = out.get(name)
            if v is None:
                continue  # LoadedModel.features names missing layers
            if not isinstance(v, torch.Tensor) or not v.is_floating_point():
                raise MRDError(f"{where}: forward(x)[{name!r}] must be a floating-point tensor, got {_describe(v)}")
            if v.ndim < 1 or v.shape[0] != x.shape[0]:
                raise MRDError(
                    f"{where}: forward(x)[{name!r}] has shape {tuple(v.shape)}; its first axis must be the "
                    f"batch ({x.shape[0]})"
                )
            if not bool(torch.isfinite(v.detach()).all()):
                raise MRDError(f"{where}: forward(x)[{name!r}] holds NaN or infinite values")
        return out

    return extract
