"""Colour: the sRGB transfer curve pair (numpy and torch) and CIELAB / Delta E.

The one place the suite spells the sRGB curve (IEC 61966-2-1): the tone map encodes with
:func:`linear_to_srgb`, texture files and the luminance test network decode with
:func:`srgb_to_linear`; :func:`delta_e` measures material colour differences.

Examples
--------
>>> import numpy as np
>>> x = np.array([0.0, 0.002, 0.2, 1.0])
>>> bool(np.allclose(srgb_to_linear(linear_to_srgb(x)), x, atol=1e-6))
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

A, GAMMA, LINEAR_CUT, SLOPE = 0.055, 2.4, 0.0031308, 12.92
"""sRGB constants: offset, exponent, linear-segment cut (linear side) and slope."""
ENCODED_CUT = 0.04045
"""The linear-segment cut on the encoded side."""

_SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Encode linear values in ``[0, 1]`` with the sRGB curve (float64 math).

    Examples
    --------
    >>> round(float(linear_to_srgb(np.array(1.0))), 6)
    1.0
    """
    x = np.asarray(x, dtype=np.float64)
    return np.where(x <= LINEAR_CUT, SLOPE * x, (1.0 + A) * np.power(np.maximum(x, LINEAR_CUT), 1.0 / GAMMA) - A)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Decode sRGB-encoded values (float64).

    Examples
    --------
    >>> round(float(srgb_to_linear(np.array(0.5))), 4)
    0.214
    """
    x = np.asarray(x, dtype=np.float64)
    return np.where(x <= ENCODED_CUT, x / SLOPE, ((x + A) / (1.0 + A)) ** GAMMA)


def linear_to_srgb_torch(x: Any) -> Any:
    """:func:`linear_to_srgb` for a torch tensor in ``[0, 1]``, differentiable.

    The power branch is kept away from 0 so its gradient stays finite where it is not selected.

    Examples
    --------
    >>> import torch
    >>> round(float(linear_to_srgb_torch(torch.tensor(0.2))), 4)
    0.4845
    """
    import torch

    power = (1.0 + A) * torch.pow(torch.clamp(x, min=LINEAR_CUT), 1.0 / GAMMA) - A
    return torch.where(x <= LINEAR_CUT, SLOPE * x, power)


def srgb_to_linear_torch(x: Any) -> Any:
    """:func:`srgb_to_linear` for a torch tensor (clamped to ``[0, 1]`` first), differentiable.

    Examples
    --------
    >>> import torch
    >>> [round(v, 4) for v in srgb_to_linear_torch(torch.tensor([0.0, 0.04045, 1.0])).tolist()]
    [0.0, 0.0031, 1.0]
    """
    import torch

    x = x.clamp(0.0, 1.0)
    return torch.where(x <= ENCODED_CUT, x / SLOPE, ((x + A) / (1.0 + A)) ** GAMMA)


def linear_rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of linear sRGB colours ``(..., 3)``.

    Examples
    --------
    >>> (np.round(linear_rgb_to_lab(np.array([1.0, 1.0, 1.0])), 2) + 0.0).tolist()
    [100.0, 0.0, 0.0]
    """
    xyz = np.asarray(rgb, np.float64) @ _SRGB_TO_XYZ.T / _WHITE_D65
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1
    )


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    """CIE76 colour difference of two linear sRGB colours (about 2.3 is just noticeable).

    Examples
    --------
    >>> round(delta_e(np.array([0.5, 0.1, 0.1]), np.array([0.5, 0.1, 0.1])), 6)
    0.0
    """
    return float(np.linalg.norm(linear_rgb_to_lab(a) - linear_rgb_to_lab(b)))
