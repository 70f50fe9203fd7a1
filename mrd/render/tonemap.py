"""Tone mapping: linear radiance -> exposure -> clip to [0, 1] -> sRGB transfer curve.

The same operator runs differentiably in torch during optimisation (:func:`tonemap_torch`) and
on stored renders (:func:`tonemap_numpy`, then :func:`to_uint8`), so what the model sees while
optimising is what observers see, up to 8-bit quantisation. Its name goes into the stimulus set
(:func:`describe`).

Examples
--------
>>> import numpy as np
>>> to_uint8(tonemap_numpy(np.array([0.0, 0.0031308, 0.5, 1.0, 4.0])))
array([  0,  10, 188, 255, 255], dtype=uint8)
"""

from __future__ import annotations

import numpy as np
import torch

from mrd.render.color import linear_to_srgb, linear_to_srgb_torch


def describe(exposure: float = 0.0) -> str:
    """Name and parameters of the operator, as recorded in the store.

    Examples
    --------
    >>> describe(0.5)
    'clip-srgb exposure=0.5'
    """
    return f"clip-srgb exposure={exposure:g}"


def tonemap_torch(linear: torch.Tensor, exposure: float = 0.0) -> torch.Tensor:
    """Differentiable tone map of linear radiance (any shape) to sRGB-encoded values in [0, 1].

    Examples
    --------
    >>> x = torch.tensor([0.2], requires_grad=True)
    >>> y = tonemap_torch(x)
    >>> y.backward()
    >>> round(float(y.detach()), 4), bool(x.grad > 0)
    (0.4845, True)
    """
    return linear_to_srgb_torch(torch.clamp(linear * (2.0**exposure), 0.0, 1.0))


def tonemap_numpy(linear: np.ndarray, exposure: float = 0.0) -> np.ndarray:
    """The same operator in numpy (float64 math, float32 result).

    Examples
    --------
    >>> float(tonemap_numpy(np.array(1.0)))
    1.0
    """
    x = np.clip(np.asarray(linear, dtype=np.float64) * (2.0**exposure), 0.0, 1.0)
    return linear_to_srgb(x).astype(np.float32)


def to_uint8(srgb: np.ndarray) -> np.ndarray:
    """Quantise sRGB values in [0, 1] to 8 bits (round half up).

    Examples
    --------
    >>> to_uint8(np.array([0.5, 1.2]))
    array([128, 255], dtype=uint8)
    """
    return np.clip(np.floor(np.asarray(srgb, dtype=np.float64) * 255.0 + 0.5), 0, 255).astype(np.uint8)


def display_image(linear: np.ndarray, exposure: float = 0.0) -> np.ndarray:
    """Linear radiance ``(..., 3)`` to the 8-bit display image shown to observers.

    Examples
    --------
    >>> display_image(np.full((1, 2, 2, 3), 0.2)).dtype
    dtype('uint8')
    """
    return to_uint8(tonemap_numpy(linear, exposure))
