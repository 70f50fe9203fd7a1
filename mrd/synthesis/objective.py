"""The objective: activation distance of rendered views to fixed target activations.

A Dr.Jit function (through ``dr.wrap``: renders go to torch without host copies) that tone maps
the renders differentiably, runs the model and returns the distance (``rel_l2`` or ``1 - cosine``,
mean over views and layers). :func:`mean_features` gives activations averaged over noisy renders
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

    Attributes
    ----------
    last_similarity : float
        Mean cosine similarity (views x layers) of the last evaluation.
    """

    def __init__(
        self, model: Any, target: Mapping[str, torch.Tensor], kind: str = "rel_l2", exposure: float = 0.0
    ) -> None:
        import drjit as dr

        self.model, self.kind, self.exposure = model, kind, exposure
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

        self._fn = _fn

    def __call__(self, images: list[Any]) -> Any:
        """Loss (a 1-element Dr.Jit tensor, differentiable) of a list of ``(H, W, 3)`` renders."""
        return self._fn(images)

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
