"""The objective: activation distance of rendered views to fixed target activations.

A Dr.Jit function (through ``dr.wrap``: renders go to torch without host copies) that tone maps
the renders differentiably, runs the model and returns the distance (``rel_l2`` or ``1 - cosine``,
mean over views and layers).

Gradient estimator (``gradient``). Renders are noisy, and the model is non-linear, so the gradient of
one render's loss is a biased estimate of the gradient of the loss of the *mean* activation: the
render's noise enters both the residual ``a - t`` and the Jacobian through which it is back-propagated
(the model's Jacobian at a noisy image), and their correlation does not average out. Measured on the
demo's material metamers (``benchmarks/material_drift.py``): with that estimator the expected step at
the target itself is not zero, so Adam drifts off the optimum while the loss rises. The default,
``"independent"``, removes the correlation: the residual comes from one render without gradient
(:meth:`Objective.residual`, whose loss is the one recorded), the Jacobian from a second, independent
render (:meth:`Objective.linear`, a linear surrogate ``sum <w, a>`` whose gradient is ``J' w``). For
``rel_l2`` the weights ``w`` are the gradient of the squared relative distance (linear in ``a``), so
the expected step is exactly zero where the mean activation matches the target: the stationary point
is the target's, not a noise-shifted one. ``"same_render"`` is the one-render estimator (half the
render cost per step). :func:`mean_features` gives activations averaged over noisy renders
(the objective's target); :func:`noise_ceiling` the similarity fresh renders of the target itself
reach under the same render noise.

Examples
--------
>>> callable(mean_features) and callable(noise_ceiling)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

import mrd  # noqa: F401  (libLLVM for Dr.Jit)
from mrd.render.tonemap import tonemap_torch
from mrd.synthesis.similarity import activation_distance, layer_similarity

GRADIENTS = ("independent", "same_render")
"""Gradient estimators (see the module docstring)."""


class Objective:
    """Activation distance of rendered views to fixed target activations, as a Dr.Jit function.

    Parameters
    ----------
    model : mrd.models.LoadedModel
    target : dict of str to torch.Tensor
        Target activations ``{layer: (V, ...)}`` (view ``v`` matches view ``v``), no gradient.
    kind : {"rel_l2", "cosine"}
    exposure : float
        Tone-map exposure in stops.
    gradient : {"independent", "same_render"}
        Gradient estimator (module docstring).

    Attributes
    ----------
    last_similarity : float
        Mean cosine similarity (views x layers) of the last evaluation.
    """

    def __init__(
        self, model: Any, target: Mapping[str, torch.Tensor], kind: str = "rel_l2", exposure: float = 0.0,
        gradient: str = "independent",
    ) -> None:
        import drjit as dr

        if gradient not in GRADIENTS:
            raise ValueError(f"gradient estimator {gradient!r}: use one of {', '.join(GRADIENTS)}")
        self.model, self.kind, self.exposure, self.gradient = model, kind, exposure, gradient
        self._weights: dict[str, torch.Tensor] | None = None
        self.clip_gradient = "surrogate"  # or "clip": the exact (zero) gradient of clipped pixels
        self.target = {k: v.detach() for k, v in target.items()}
        self.last_similarity = float("nan")

        @dr.wrap(source="drjit", target="torch")
        def _fn(images: list[torch.Tensor]) -> torch.Tensor:
            x = torch.stack(images).to(self.model.device).permute(0, 3, 1, 2)
            feats = self.model.features(tonemap_torch(x, self.exposure, self.clip_gradient))
            cos, _ = layer_similarity({k: v.detach() for k, v in feats.items()}, self.target)
            self.last_similarity = float(cos.mean())
            return activation_distance(feats, self.target, kind=self.kind).reshape(1)

        @dr.wrap(source="drjit", target="torch")
        def _lin(images: list[torch.Tensor]) -> torch.Tensor:
            x = torch.stack(images).to(self.model.device).permute(0, 3, 1, 2)
            feats = self.model.features(tonemap_torch(x, self.exposure, self.clip_gradient))
            w = self._weights or {}
            return sum((feats[k] * w[k]).sum() for k in w).reshape(1)

        self._fn, self._lin = _fn, _lin

    def __call__(self, images: list[Any]) -> Any:
        """Loss (a 1-element Dr.Jit tensor, differentiable) of a list of ``(H, W, 3)`` renders."""
        return self._fn(images)

    def residual(self, images: list[Any]) -> float:
        """Loss of renders made without gradient; keeps ``w = d loss / d activations`` for :meth:`linear`.

        For ``rel_l2`` ``w`` is the gradient of the mean squared relative distance (linear in the
        activations: its expectation vanishes where the mean activation equals the target's); for
        ``cosine`` the gradient of ``1 - cos``. Sets :attr:`last_similarity`.

        Returns
        -------
        float
            The loss of these renders (the objective's own distance, as :meth:`__call__` computes it).
        """
        with torch.no_grad():
            x = torch.stack([img.torch() for img in images]).to(self.model.device).permute(0, 3, 1, 2)
            feats = self.model.features(tonemap_torch(x, self.exposure))
            cos, _ = layer_similarity(feats, self.target)
            self.last_similarity = float(cos.mean())
            loss = float(activation_distance(feats, self.target, kind=self.kind))
        leaves = {k: v.detach().requires_grad_(True) for k, v in feats.items()}
        with torch.enable_grad():
            if self.kind == "rel_l2":
                g = torch.stack([
                    ((a - t.expand_as(a)).flatten(1).square().sum(1) / t.flatten(1).square().sum(1).clamp_min(1e-24))
                    for a, t in ((leaves[k], self.target[k]) for k in leaves)
                ], dim=1).mean()  # fmt: skip
            else:
                g = activation_distance(leaves, self.target, kind=self.kind)
            grads = torch.autograd.grad(g, list(leaves.values()))
        self._weights = {k: gr.detach() for k, gr in zip(leaves, grads, strict=True)}
        return loss

    def linear(self, images: list[Any]) -> Any:
        """``sum <w, a(images)>`` with the weights of the last :meth:`residual` (differentiable Dr.Jit scalar).

        Its gradient is ``J' w``, ``J`` the Jacobian of these renders' activations: with renders
        independent of the residual's, an estimate of the gradient with no noise correlation.
        """
        if self._weights is None:
            raise RuntimeError("Objective.linear needs a residual() first")
        return self._lin(images)

    def similarity(self, feats: Mapping[str, torch.Tensor]) -> float:
        """Mean cosine similarity (views x layers) of activations to the target."""
        cos, _ = layer_similarity(feats, self.target)
        return float(cos.mean())


def mean_features(
    renderer: Any,
    model: Any,
    *,
    spp: int,
    seed: int,
    integrator: str = "prb",
    exposure: float = 0.0,
    n: int = 1,
) -> dict[str, torch.Tensor]:
    """Activations of the renderer's current scene, averaged over ``n`` renders with seeds ``seed + i * V``.

    The optimisation target is the mean activation of *noisy* target renders at the optimisation
    spp: a noise-free target would reward images whose noise-laden activations happen to resemble
    it, which biases the optimum (measured: base colour ran away from the target's).

    Returns
    -------
    dict of str to torch.Tensor
        ``{layer: (V, ...)}``, no gradient.
    """
    acc: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for i in range(n):
            images = renderer.render_views(spp, seed + i * renderer.n_views, integrator)
            x = torch.stack([img.torch() for img in images]).to(model.device).permute(0, 3, 1, 2)
            for k, v in model.features(tonemap_torch(x, exposure)).items():
                acc[k] = acc[k] + v / n if k in acc else v / n
    return acc


def noise_ceiling(
    renderer: Any,
    objective: Objective,
    *,
    spp: int,
    seed: int,
    integrator: str = "prb",
    n: int = 4,
) -> float:
    """Mean similarity to the objective's target of ``n`` fresh single renders of the renderer's scene.

    With the target scene loaded this is the best a step can expect under render noise at ``spp``
    (a metamer's step similarity hovers around it, not around 1).

    Returns
    -------
    float

    Examples
    --------
    >>> from mrd.config import RenderSettings, SceneSpec
    >>> from mrd.models import DEFAULT_LAYERS, ModelSpec, load_model
    >>> from mrd.render.variant import use_variant
    >>> _ = use_variant("llvm_ad_rgb")
    >>> from mrd.groups import renderer_for, target_params
    >>> from mrd.synthesis.target import layout_for
    >>> spec = SceneSpec(id="ball")
    >>> ren = renderer_for(layout_for(spec, RenderSettings(resolution=32, views=1, max_depth=2)), target_params(spec))
    >>> model = load_model(ModelSpec(name="mobilenetv2_100", layers=DEFAULT_LAYERS["mobilenetv2_100"]))
    >>> objective = Objective(model, mean_features(ren, model, spp=4, seed=1, n=4))
    >>> 0.5 < noise_ceiling(ren, objective, spp=4, seed=99) < 1.0
    True
    """
    sims = []
    for i in range(n):
        feats = mean_features(renderer, objective.model, spp=spp, seed=seed + i * renderer.n_views,
                              integrator=integrator, exposure=objective.exposure)  # fmt: skip
        sims.append(objective.similarity(feats))
    return float(np.mean(sims))
