"""Choosing the Mitsuba variant: ``cuda_ad_rgb`` when a CUDA GPU is usable, else ``llvm_ad_rgb``.

The choice can be overridden (config field ``variant`` or ``mrd generate --variant``). Only
``*_ad_rgb`` variants are accepted: the generator differentiates RGB renders.

Examples
--------
>>> from mrd.render.variant import use_variant
>>> use_variant("llvm_ad_rgb")
'llvm_ad_rgb'
"""

from __future__ import annotations

import mrd  # noqa: F401  (sets DRJIT_LIBLLVM_PATH before drjit is imported)
from stimuli.errors import MRDError

SUPPORTED = ("cuda_ad_rgb", "llvm_ad_rgb")


def cuda_usable() -> bool:
    """Whether Dr.Jit's CUDA backend can run here (a driver and a GPU are present).

    Examples
    --------
    >>> isinstance(cuda_usable(), bool)
    True
    """
    import drjit as dr

    try:
        return bool(dr.has_backend(dr.JitBackend.CUDA))
    except Exception:  # no driver: Dr.Jit raises on some systems instead of returning False
        return False


def llvm_usable() -> bool:
    """Whether Dr.Jit's LLVM (CPU) backend found a libLLVM."""
    import drjit as dr

    try:
        return bool(dr.has_backend(dr.JitBackend.LLVM))
    except Exception:
        return False


def choose_variant(requested: str | None = "auto") -> str:
    """The variant to use: ``requested`` when it is a supported name, else automatic.

    Parameters
    ----------
    requested : str or None
        ``"auto"`` / ``None``, ``"cuda_ad_rgb"`` or ``"llvm_ad_rgb"``.

    Returns
    -------
    str
        A supported variant that can run here.

    Raises
    ------
    stimuli.errors.MRDError
        If the requested variant is unknown or its backend is unavailable.

    Examples
    --------
    >>> choose_variant("llvm_ad_rgb")
    'llvm_ad_rgb'
    """
    req = (requested or "auto").strip()
    if req == "auto":
        if cuda_usable():
            return "cuda_ad_rgb"
        if llvm_usable():
            return "llvm_ad_rgb"
        raise MRDError(
            "variant 'auto': neither a CUDA GPU nor a libLLVM for Dr.Jit's CPU backend was found; "
            "install karellen-llvm-core (or set DRJIT_LIBLLVM_PATH before starting)"
        )
    if req not in SUPPORTED:
        raise MRDError(f"variant {req!r} is not supported; use 'auto' or one of {', '.join(SUPPORTED)}")
    if req == "cuda_ad_rgb" and not cuda_usable():
        raise MRDError("variant 'cuda_ad_rgb': no usable CUDA GPU here; use 'llvm_ad_rgb' or 'auto'")
    if req == "llvm_ad_rgb" and not llvm_usable():
        raise MRDError(
            "variant 'llvm_ad_rgb': Dr.Jit found no libLLVM; set DRJIT_LIBLLVM_PATH before starting"
        )
    return req


def use_variant(requested: str | None = "auto") -> str:
    """Choose a variant (see :func:`choose_variant`) and make it Mitsuba's active one.

    Examples
    --------
    >>> use_variant("auto") in SUPPORTED
    True
    """
    import mitsuba as mi

    name = choose_variant(requested)
    if mi.variant() != name:
        mi.set_variant(name)
    return name


def torch_device_for(variant: str, requested: str | None = None) -> str:
    """Torch device matching a variant (``cuda`` for ``cuda_ad_rgb``), unless ``requested`` says otherwise.

    Keeping the model on the renderer's device lets ``dr.wrap`` exchange images without copies.

    Examples
    --------
    >>> torch_device_for("llvm_ad_rgb")
    'cpu'
    """
    if requested and requested != "auto":
        return requested
    return "cuda" if variant.startswith("cuda") else "cpu"
