"""Small user-module models with known invariances (and the documented example of a user module).

A user module is named ``"package.module:factory"`` in a config, e.g.::

    [[models]]
    name = "mrd.models.testing:mean_luminance"
    layers = ["luminance"]

``factory()`` returns ``(torch.nn.Module, [layer names])``; the module's ``forward(x)`` returns
``{layer: Tensor (B, ...)}``. Optional attributes ``input_size``, ``mean``, ``std`` set the
preprocessing (see :mod:`mrd.models.user`).

Examples
--------
>>> import torch
>>> module, layers = mean_luminance()
>>> layers
['luminance']
>>> grey = torch.full((1, 3, 8, 8), 0.5)
>>> round(float(module(grey)["luminance"]), 4)  # sRGB 0.5 is linear 0.214
0.214
"""

from __future__ import annotations

import torch

from mrd.render.color import srgb_to_linear_torch

REC709_LUMA = (0.2126, 0.7152, 0.0722)
"""Relative luminance weights of linear Rec. 709 / sRGB primaries."""


class MeanLuminance(torch.nn.Module):
    """Mean relative luminance of an sRGB image: one layer ``"luminance"`` of shape ``(B, 1)``.

    The input is expected un-normalised (``mean = 0``, ``std = 1``), so the model sees sRGB values
    in ``[0, 1]``; they are linearised and weighted with :data:`REC709_LUMA`. Any change of colour
    that keeps the mean luminance is invisible to it.

    Note that a one-dimensional activation has cosine similarity 1 to any other positive one:
    compare such a layer with relative L2.
    """

    input_size = (3, 32, 32)
    mean = (0.0, 0.0, 0.0)
    std = (1.0, 1.0, 1.0)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"luminance": (B, 1)}`` mean relative luminance of each image."""
        lin = srgb_to_linear_torch(x)
        lum = REC709_LUMA[0] * lin[:, 0] + REC709_LUMA[1] * lin[:, 1] + REC709_LUMA[2] * lin[:, 2]
        return {"luminance": lum.mean(dim=(1, 2)).unsqueeze(1)}


def mean_luminance() -> tuple[torch.nn.Module, list[str]]:
    """Factory of :class:`MeanLuminance`: ``"mrd.models.testing:mean_luminance"`` in a config.

    Examples
    --------
    >>> from mrd.models import ModelSpec, load_model
    >>> m = load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))
    >>> import torch
    >>> round(float(m.features(torch.ones(1, 3, 40, 40))["luminance"]), 4)
    1.0
    """
    return MeanLuminance(), ["luminance"]
