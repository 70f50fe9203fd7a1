"""What every probe does with a scene once found: the target set-up, display renders and model distances.

A probe stimulus is shown exactly as a metamer is: ``display_renders`` independent display renders
(high spp, distinct seeds, tone mapped to 8-bit sRGB) of the target with one group's values
replaced. Its activation distance under each model is measured the way the metamer criterion
measures it (:func:`mrd.synthesis.distances.mean_distance` between the activations of the probe's
renders and of the target's stored renders), so the stored numbers are what an observer's images
give, not the optimisation's.

Examples
--------
>>> probe_seeds(0, "ball.material.eigen.m.most0.+1", 2) == probe_seeds(0, "ball.material.eigen.m.most0.+1", 2)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mrd.groups import copy_params, get_group
from mrd.render.tonemap import display_image
from mrd.synthesis.seeds import stable_seed
from mrd.synthesis.target import Target


def probe_target(cfg: Any, scene_id: str) -> Target:
    """The target scene of a probe config, with its display renders."""
    return Target.from_spec(cfg.scene(scene_id), cfg.render, master_seed=cfg.seed, resolve=cfg.resolve)


def group_param(cfg: Any, target: Target, group: str) -> Any:
    """The group's latent parametrisation at the target's own values (latent point ``z0``)."""
    target.reset()
    return get_group(group).parametrise(target.params[group], cfg, target.params)


def probe_seeds(master: int, probe_id: str, n: int) -> list[int]:
    """Display-render seeds of a probe (stable across runs; distinct from every target's)."""
    return [stable_seed(master, probe_id, "probe display", r) for r in range(n)]


def probe_renders(cfg: Any, target: Target, group: str, values: Mapping[str, np.ndarray],
                  seeds: list[int]) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:  # fmt: skip
    """Display renders ``(R, V, H, W, 3)`` uint8 of the target with ``group`` set to ``values``, and the scene's params."""
    params = copy_params(target.params)
    params[group] = {k: np.array(v, copy=True) for k, v in values.items()}
    target.renderer.set_params(params, (group,))
    r = cfg.render
    out = np.stack([display_image(target.renderer.render_display(r.display_spp, s), r.exposure) for s in seeds])
    target.reset()
    return out, params


def display_distances(models: Mapping[str, Any], target: Target, renders: np.ndarray, kind: str = "rel_l2",
                      cache: dict[str, Any] | None = None) -> dict[str, float]:  # fmt: skip
    """``{model_id: mean activation distance}`` of probe renders to the target's renders, under every model."""
    from mrd.synthesis.distances import mean_distance, render_features

    cache = {} if cache is None else cache
    out = {}
    for mid, m in models.items():
        if mid not in cache:
            cache[mid] = render_features(m, target.renders)
        out[mid] = mean_distance(render_features(m, renders), cache[mid], kind)
    return out
