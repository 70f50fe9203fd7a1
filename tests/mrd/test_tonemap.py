"""The tone map's surrogate gradient: values bit-identical to the plain clip, exact gradient inside the
range (finite differences), the descent-direction rule outside it, and learning through saturation.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mrd.render.color import linear_to_srgb_torch
from mrd.render.tonemap import display_image, saturated_fraction, to_uint8, tonemap_numpy, tonemap_torch
from stimuli.errors import MRDError


def _previous(linear: torch.Tensor, exposure: float) -> torch.Tensor:
    """The tone map as it was before the surrogate gradient (the reference for the values)."""
    return linear_to_srgb_torch(torch.clamp(linear * (2.0**exposure), 0.0, 1.0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("exposure", [0.0, 0.5, -1.25])
def test_values_are_bit_identical_to_the_plain_clip(dtype, exposure):
    g = torch.Generator().manual_seed(0)
    hdr = torch.cat(
        [torch.rand(3996, generator=g) * 3.0, torch.tensor([0.0, 1.0, 0.0031308, -0.2, 1e-9, 7.0])]
    )
    hdr = hdr.to(dtype).reshape(-1, 1, 2, 3)
    want = _previous(hdr, exposure)
    for gradient in ("surrogate", "clip"):
        got = tonemap_torch(hdr.clone().requires_grad_(True), exposure, gradient)
        assert got.dtype == want.dtype and torch.equal(got.detach(), want), gradient
    # and the 8-bit images observers see are those of the numpy operator
    arr = hdr.double().numpy()
    assert np.array_equal(
        to_uint8(tonemap_torch(hdr.double(), exposure).numpy()), display_image(arr, exposure)
    )
    assert np.allclose(tonemap_torch(hdr.double(), exposure).numpy(), tonemap_numpy(arr, exposure), atol=1e-6)


def test_gradient_inside_the_range_matches_finite_differences():
    g = torch.Generator().manual_seed(1)
    x = torch.cat([0.004 + 0.9 * torch.rand(200, generator=g, dtype=torch.float64),
                   0.0030 * torch.rand(20, generator=g, dtype=torch.float64)])  # fmt: skip
    w = torch.randn(x.shape, generator=g, dtype=torch.float64)
    for exposure in (0.0, 0.1):
        xs = x / 2.0**exposure  # in range after exposure
        xg = xs.clone().requires_grad_(True)
        (tonemap_torch(xg, exposure) * w).sum().backward()
        h = 1e-7
        fd = ((tonemap_torch(xs + h, exposure) - tonemap_torch(xs - h, exposure)) * w) / (2 * h)
        assert torch.allclose(xg.grad, fd, rtol=1e-6, atol=1e-8), exposure


def test_gradient_outside_the_range_points_back_into_it():
    slope_at_white = 1.055 / 2.4  # d sRGB / d linear at 1
    x = torch.tensor([3.0, 3.0, -0.5, -0.5], dtype=torch.float64, requires_grad=True)
    w = torch.tensor(
        [1.0, -1.0, -1.0, 1.0], dtype=torch.float64
    )  # loss wants: darker, brighter, brighter, darker
    (tonemap_torch(x) * w).sum().backward()
    # above white: darker passes (as if unclipped at white), brighter is blocked; below black the mirror
    assert x.grad[0] == pytest.approx(slope_at_white) and x.grad[1] == 0.0
    assert x.grad[2] == pytest.approx(-12.92) and x.grad[3] == 0.0
    # a gradient step with the surrogate moves a saturated pixel towards the range
    step = x.detach() - 0.1 * x.grad
    assert step[0] < 3.0 and step[2] > -0.5
    y = x.detach().clone().requires_grad_(True)
    (tonemap_torch(y, gradient="clip") * w).sum().backward()
    assert torch.equal(y.grad, torch.zeros(4, dtype=torch.float64))


def test_saturated_pixels_keep_learning():
    """A gain driving every pixel past white: the exact clip gradient is 0, the surrogate recovers the gain."""
    base = torch.linspace(0.2, 0.8, 48, dtype=torch.float64)
    target = tonemap_torch(base)  # gain 1
    results = {}
    for gradient in ("clip", "surrogate"):
        gain = torch.tensor(6.0, dtype=torch.float64, requires_grad=True)  # 6 * 0.2 > 1: all saturated
        opt = torch.optim.Adam([gain], lr=0.05)
        for _ in range(300):
            opt.zero_grad()
            loss = ((tonemap_torch(gain * base, gradient=gradient) - target) ** 2).mean()
            loss.backward()
            opt.step()
        results[gradient] = float(gain.detach())
    assert results["clip"] == 6.0
    assert results["surrogate"] == pytest.approx(1.0, abs=0.02)


def test_saturated_fraction():
    img = np.full((2, 3, 4, 3), 0.5)
    img[0, 0, 0] = [1.2, 0.1, 0.1]  # one channel over white
    img[1, 2, 3] = [2.0, 2.0, 2.0]
    img[1, 0, 0] = [1.0, 1.0, 1.0]  # exactly white is not clipped
    assert saturated_fraction(img) == pytest.approx(2 / 24)
    assert saturated_fraction(torch.tensor(img)) == pytest.approx(2 / 24)
    assert saturated_fraction(img, exposure=1.0) == pytest.approx(3 / 24)  # 0.5 * 2 = 1 stays; 1.0 * 2 clips
    assert saturated_fraction(img, exposure=-2.0) == 0.0
    with pytest.raises(MRDError, match="linear RGB"):
        saturated_fraction(np.zeros((4, 4)))


def test_unknown_gradient_is_refused():
    with pytest.raises(MRDError, match="tone map gradient 'soft'"):
        tonemap_torch(torch.zeros(3), gradient="soft")
