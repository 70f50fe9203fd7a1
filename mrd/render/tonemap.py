"""Tone mapping: linear radiance -> exposure -> clip to [0, 1] -> sRGB transfer curve.

The same operator runs differentiably in torch during optimisation (:func:`tonemap_torch`) and
on stored renders (:func:`tonemap_numpy`, then :func:`to_uint8`), so what the model sees while
optimising is what observers see, up to 8-bit quantisation. Its name goes into the stimulus set
(:func:`describe`). The torch version's clip has a surrogate gradient (:class:`SurrogateClip`) so
saturated pixels keep learning; its values are unchanged. :func:`saturated_fraction` measures how
much of a render is clipped.

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
from stimuli.errors import MRDError


def describe(exposure: float = 0.0) -> str:
    """Name and parameters of the operator, as recorded in the store.

    Examples
    --------
    >>> describe(0.5)
    'clip-srgb exposure=0.5'
    """
    return f"clip-srgb exposure={exposure:g}"


GRADIENTS = ("surrogate", "clip")
"""Gradients of the clip: ``"surrogate"`` (default, :class:`SurrogateClip`) or ``"clip"`` (the exact one)."""


class SurrogateClip(torch.autograd.Function):
    """``clamp(x, 0, 1)`` forward; backward passes the gradient inside ``[0, 1]`` and, outside it,
    wherever a descent step (``x - lr * grad``) moves ``x`` back towards the range.

    The exact gradient of the clip is 0 on saturated pixels, so a highlight (or a base colour or a
    light) driven past white stops learning for good. Here a pixel above 1 whose loss gradient is
    positive (the loss wants it darker) gets that gradient as if unclipped; one whose gradient is
    negative (wants it brighter still) gets 0, as the image cannot follow; below 0 the mirror rule.

    Examples
    --------
    >>> x = torch.tensor([-0.5, 0.5, 2.0, 2.0], requires_grad=True)
    >>> (SurrogateClip.apply(x) * torch.tensor([1.0, 1.0, 1.0, -1.0])).sum().backward()
    >>> x.grad.tolist()
    [0.0, 1.0, 1.0, -0.0]
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.clamp(x, 0.0, 1.0)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        passes = ((x >= 0.0) & (x <= 1.0)) | ((x > 1.0) & (grad > 0)) | ((x < 0.0) & (grad < 0))
        return grad * passes


def tonemap_torch(linear: torch.Tensor, exposure: float = 0.0, gradient: str = "surrogate") -> torch.Tensor:
    """Differentiable tone map of linear radiance (any shape) to sRGB-encoded values in [0, 1].

    The values are those of :func:`tonemap_numpy` (clip, then the sRGB curve) whatever
    ``gradient`` is; ``gradient`` (:data:`GRADIENTS`) only chooses how the clip back-propagates:
    ``"surrogate"`` (:class:`SurrogateClip`) or ``"clip"`` (0 on clipped values).

    Examples
    --------
    >>> x = torch.tensor([0.2, 3.0], requires_grad=True)
    >>> y = tonemap_torch(x)
    >>> y.sum().backward()
    >>> [round(v, 4) for v in y.tolist()], bool(x.grad[0] > 0), bool(x.grad[1] > 0)
    ([0.4845, 1.0], True, True)
    """
    scaled = linear * (2.0**exposure)
    if gradient == "surrogate":
        return linear_to_srgb_torch(SurrogateClip.apply(scaled))
    if gradient == "clip":
        return linear_to_srgb_torch(torch.clamp(scaled, 0.0, 1.0))
    raise MRDError(f"tone map gradient {gradient!r} is not one of {', '.join(GRADIENTS)}")


def saturated_fraction(linear: np.ndarray | torch.Tensor, exposure: float = 0.0) -> float:
    """Fraction of pixels of linear renders ``(..., 3)`` with a channel clipped at white by the tone map.

    A pixel is saturated when any channel exceeds 1 after exposure (it displays as 255 with the
    excess lost); the value covers every view and pixel given.

    Examples
    --------
    >>> img = np.zeros((1, 2, 2, 3))
    >>> img[0, 0, 0] = [1.5, 0.2, 0.2]
    >>> saturated_fraction(img), saturated_fraction(img, exposure=-1.0)
    (0.25, 0.0)
    """
    x = linear.detach().cpu().numpy() if isinstance(linear, torch.Tensor) else np.asarray(linear)
    if x.ndim < 1 or x.shape[-1] != 3 or x.size == 0:
        raise MRDError(f"saturated fraction: renders must be (..., 3) linear RGB, got shape {x.shape}")
    return float(np.mean(np.any(x.astype(np.float64) * (2.0**exposure) > 1.0, axis=-1)))


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
