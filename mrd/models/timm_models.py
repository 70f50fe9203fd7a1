"""Build a timm model with its weights and a layer extractor (used by :func:`mrd.models.load_model`).

Weights (``ModelSpec.weights``):

* ``"default"``: for ``mobilenetv2_100`` the embedded offline ImageNet weights
  (:func:`mrd.models.weights.default_weights_path`, sha256 pinned); for other models the same as ``"hub"``.
* ``"hub"``: ``timm.create_model(name, pretrained=True)``; fails without a reachable model hub.
* ``"random"``: timm's initialisation under ``torch.manual_seed(RANDOM_SEED)`` (reproducible;
  the global random state is left untouched).
* a path: a ``.safetensors``/``.pth`` state dict, matched by name or else by order and shape; a
  classifier of another size (or none) is followed by rebuilding the head.

Layers: ``feature_info`` names are computed by timm's own ``features_only`` wrapper
(``out_indices`` from the names; the loaded weights are passed through timm's
``pretrained_cfg_overlay=dict(state_dict=...)`` and checked to have arrived). Other module paths
are read with forward hooks on ``model.get_submodule(layer)`` (the forward pass stops once the last
one is out); a mix of both costs two forward passes. If timm cannot wrap the architecture, hooks
read the ``feature_info`` modules too. For CNNs the two give identical activations; for ViTs
``features_only`` gives ``(B, C, H, W)`` maps without prefix tokens, a hook the raw ``(B, N, C)``
tokens.

Examples
--------
>>> from mrd.models import ModelSpec
>>> parts = build_timm_model(ModelSpec(name="resnet18", layers=["layer1", "layer4"], weights="random"))
>>> parts.extraction, parts.record.source
('features_only', 'random')
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
from pathlib import Path

import timm
import timm.data
import torch

from mrd.models import weights as W
from mrd.models.parts import Extractor, ModelParts
from mrd.models.spec import ModelSpec
from stimuli.errors import MRDError
from stimuli.records import ModelRecord

RANDOM_SEED = 0
"""Seed of timm's initialisation for ``weights = "random"`` (and for every model build)."""


_log = logging.getLogger(__name__)


class _Done(Exception):
    """Raised by the last layer hook to end a forward pass early."""


IMAGENET_CLASSES = 1000
"""A timm model with this many outputs is taken as an ImageNet-1k classifier (classification agreement)."""


def check_model_name(name: str) -> None:
    """Raise :class:`MRDError` unless ``name`` is a timm model, suggesting close names.

    Examples
    --------
    >>> check_model_name("resnet5O")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: model 'resnet5O' is not a timm model name; close matches: ...
    """
    if name.startswith(("hf-hub:", "local-dir:")) or timm.is_model(name):
        return
    close = difflib.get_close_matches(name, timm.list_models(), n=8, cutoff=0.6)
    stem = name.split(".")[0][:8]
    raise MRDError(
        f"model {name!r} is not a timm model name; close matches: {close or 'none'}; list names with "
        f"`python -c \"import timm; print(timm.list_models('*{stem}*'))\"`, or name a user module as "
        "'package.module:factory'"
    )


def _create(name: str, **kwargs: object) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        return timm.create_model(name, **kwargs)


def feature_names(name: str) -> list[str]:
    """The ``features_only`` layer names of a timm model (its ``feature_info`` module names).

    Examples
    --------
    >>> feature_names("mobilenetv2_100")
    ['blocks.0', 'blocks.1', 'blocks.2', 'blocks.4', 'blocks.6']
    """
    check_model_name(name)
    try:
        with torch.device("meta"):
            model = timm.create_model(name)
    except Exception:  # some models cannot be built on the meta device
        model = _create(name)
    return _info_names(model)


def _info_names(model: torch.nn.Module) -> list[str]:
    info = getattr(model, "feature_info", None)
    if isinstance(info, list):
        return [str(d["module"]) for d in info if isinstance(d, dict) and "module" in d]
    return []


def _hub_model(spec: ModelSpec) -> tuple[torch.nn.Module, str]:
    try:
        model = _create(spec.name, pretrained=True)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise MRDError(
            f"model {spec.name!r}: weights = 'hub' could not load pretrained weights through timm "
            f"({type(exc).__name__}: {first}); no model hub seems reachable. Download a state dict "
            f'elsewhere and give its path: weights = "/path/to/{spec.name}.safetensors" '
            "(with weights_sha256 to pin it), or use weights = 'random'"
        ) from None
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    return model, str(cfg.get("hf_hub_id") or cfg.get("url") or spec.name)


def _num_classes(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> int | None:
    """Classifier size the file implies, if it differs from the model's (0 = no classifier)."""
    head = (getattr(model, "pretrained_cfg", {}) or {}).get("classifier")
    if not isinstance(head, str):
        return None
    key, own = f"{head}.weight", model.state_dict()
    if key not in own:
        return None
    if key in state:
        n = int(state[key].shape[0])
        return n if n != int(own[key].shape[0]) else None
    body = [k for k in own if not k.startswith(head + ".") and not k.endswith("num_batches_tracked")]
    return 0 if all(k in state for k in body) else None


def _file_model(spec: ModelSpec) -> tuple[torch.nn.Module, str, str, int | None]:
    if spec.weights == "default":
        path, expected = W.default_weights_path(), spec.weights_sha256 or W.DEFAULT_WEIGHTS_SHA256
        version = importlib.metadata.version(W.DEFAULT_WEIGHTS_PACKAGE)
        label = f"{W.DEFAULT_WEIGHTS_PACKAGE}=={version}:{W.DEFAULT_WEIGHTS_FILE}"
    else:
        path, expected = Path(spec.weights).expanduser(), spec.weights_sha256
        if not path.is_file():
            raise MRDError(
                f"model {spec.name!r}: weights {spec.weights!r} is not 'default', 'hub', 'random' or an "
                "existing .safetensors/.pth file"
            )
        path = path.resolve()
        label = str(path)
    sha = W.verify_sha256(path, expected)
    state = W.read_state_dict(path)
    model = _create(spec.name)
    n = _num_classes(model, state)
    if n is not None:
        model = _create(spec.name, num_classes=n)
    mapped, _how = W.map_state_dict(state, model, what=f"weight file {path} for {spec.name}")
    model.load_state_dict(mapped, strict=True)
    return model, label, sha, n


def _check_layers(spec: ModelSpec, model: torch.nn.Module, names: list[str]) -> None:
    modules = dict(model.named_modules())
    unknown = [layer for layer in spec.layers if layer not in names and layer not in modules]
    if unknown:
        examples = [n for n in modules if n and n.count(".") <= 1][:40]
        raise MRDError(
            f"model {spec.name!r}: unknown layers {unknown} in field 'layers'; valid are timm features_only "
            f"names {names} or any module path, e.g. {examples} (all: dict(model.named_modules()))"
        )


def _hook_extractor(model: torch.nn.Module, layers: list[str]) -> Extractor:
    modules = {layer: model.get_submodule(layer) for layer in layers}

    def extract(x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}

        def make(name: str):  # noqa: ANN202
            def hook(_m: torch.nn.Module, _i: object, output: object) -> None:
                if name not in out:  # a module called twice contributes its first call
                    out[name] = output.clone() if isinstance(output, torch.Tensor) else output
                    if len(out) == len(modules):
                        raise _Done

            return hook

        handles = [m.register_forward_hook(make(name)) for name, m in modules.items()]
        try:
            model(x)
        except _Done:
            pass
        finally:
            for h in handles:
                h.remove()
        return out

    return extract


def _missing_weights(feat: torch.nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Tensors of a feature wrapper that do not equal the loaded weights.

    Wrappers rename modules (``blocks.0`` -> ``blocks_0``) or nest the model (``model.``), so keys
    are compared with ``_`` read as ``.`` and leading wrapper segments dropped.
    """
    norm = {k.replace("_", "."): v for k, v in state.items()}
    bad = []
    for key, value in feat.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        parts = key.replace("_", ".").split(".")
        found = next((norm[c] for c in (".".join(parts[i:]) for i in range(len(parts))) if c in norm), None)
        if found is None or found.shape != value.shape or not torch.equal(found, value):
            bad.append(key)
    return bad


def _features_only(
    spec: ModelSpec, model: torch.nn.Module, names: list[str], layers: list[str], num_classes: int | None
) -> tuple[torch.nn.Module, Extractor] | None:
    """timm's ``features_only`` wrapper with ``model``'s weights; None if timm cannot make one that fits."""
    idx = sorted({names.index(layer) for layer in layers})
    state = model.state_dict()
    kwargs: dict[str, object] = {
        "features_only": True,
        "out_indices": tuple(idx),
        "pretrained": True,
        "pretrained_cfg_overlay": {"state_dict": state},
    }
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    log = logging.getLogger("timm.models._builder")
    level = log.level
    log.setLevel(logging.ERROR)  # timm warns about the (expected) unused classifier tensors
    try:
        feat = _create(spec.name, **kwargs)
    except Exception as exc:  # some architectures have no features_only support
        _log.warning("%s: timm features_only failed (%s); using forward hooks", spec.name, exc)
        return None
    finally:
        log.setLevel(level)
    for m in feat.modules():  # drop timm's reference to the passed-through state dict
        cfg = getattr(m, "pretrained_cfg", None)
        if isinstance(cfg, dict):
            cfg.pop("state_dict", None)
    got = list(feat.feature_info.module_name())
    bad = _missing_weights(feat, state)
    if got != [names[i] for i in idx] or bad:
        _log.warning(
            "%s: timm features_only gave layers %s, %d tensors not from the loaded weights; using hooks",
            spec.name,
            got,
            len(bad),
        )
        return None

    def extract(x: torch.Tensor) -> dict[str, torch.Tensor]:
        outs = feat(x)
        values = list(outs.values()) if isinstance(outs, dict) else list(outs)
        return dict(zip(got, values, strict=True))

    return feat, extract


def build_timm_model(spec: ModelSpec) -> ModelParts:
    """Build ``spec`` as a timm model: weights, preprocessing record and layer extractor.

    Examples
    --------
    >>> from mrd.models import ModelSpec
    >>> parts = build_timm_model(ModelSpec(name="test_resnet", layers=["layer1.0"], weights="random"))
    >>> parts.extraction, parts.record.input_size
    ('hooks', (3, 160, 160))

    Raises
    ------
    MRDError
        Unknown model or layer names, unobtainable weights, or a weight file that does not fit.
    """
    check_model_name(spec.name)
    num_classes: int | None = None
    weights = spec.weights
    if weights == "default" and spec.name != W.DEFAULT_MODEL:
        weights = "hub"
    if weights in ("hub", "random") and spec.weights_sha256 is not None:
        raise MRDError(
            f"model {spec.name!r}: weights_sha256 is given but weights = {weights!r} has no file to check; "
            "give a weight file path or remove weights_sha256"
        )
    if weights == "hub":
        model, label = _hub_model(spec)
        source, sha = "timm-hub", ""
    elif weights == "random":
        model, label = _create(spec.name), f"timm initialisation, torch.manual_seed({RANDOM_SEED})"
        source, sha = "random", ""
    else:
        model, label, sha, num_classes = _file_model(spec)
        source = "weights-file"
    names = _info_names(model)
    _check_layers(spec, model, names)
    cfg = timm.data.resolve_data_config({}, model=model)
    record = ModelRecord(
        model_id=spec.model_id,
        name=spec.name,
        source=source,
        weight_source=label,
        weight_sha256=sha,
        layers=list(spec.layers),
        input_size=tuple(int(v) for v in cfg["input_size"]),
        mean=tuple(float(v) for v in cfg["mean"]),
        std=tuple(float(v) for v in cfg["std"]),
    )
    named = [layer for layer in spec.layers if layer in names]
    others = [layer for layer in spec.layers if layer not in names]
    classifier = model if getattr(model, "num_classes", 0) == IMAGENET_CLASSES else None
    built = _features_only(spec, model, names, named, num_classes) if named else None
    if built is None:
        return ModelParts(record, model, _hook_extractor(model, list(spec.layers)), "hooks", classifier)
    feat, from_features = built
    if not others:
        return ModelParts(record, feat, from_features, "features_only", classifier)
    from_hooks = _hook_extractor(model, others)

    def extract(x: torch.Tensor) -> dict[str, torch.Tensor]:  # two passes, so a name always means one thing
        return {**from_features(x), **from_hooks(x)}

    both = torch.nn.ModuleDict({"features_only": feat, "model": model})
    return ModelParts(record, both, extract, "features_only+hooks", classifier)
