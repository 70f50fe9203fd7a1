"""The null reference: scenes equal to the target except that the varied group is drawn from its prior.

A metamer must be closer to its target than these draws (under the generating model); their
display images are stored with the metamer. Draws come from the group's own prior
(:meth:`mrd.groups.base.ParameterGroup.draw`).

Examples
--------
>>> import numpy as np
>>> from mrd.config import SceneSpec, SynthesisSettings
>>> from mrd.groups import target_params
>>> t = target_params(SceneSpec(id="a"))
>>> nulls = null_params("lighting", SynthesisSettings(), t, 3, seed=1)
>>> len(nulls), bool(np.array_equal(nulls[0]["shape"]["vertices"], t["shape"]["vertices"]))
(3, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mrd.groups import copy_params, get_group
from mrd.synthesis.seeds import stable_seed
from stimuli.records import Params


def null_params(group: str, settings: Any, target: Params, k: int, seed: int) -> list[Params]:
    """``k`` scenes equal to the target except for ``group``, drawn from its prior.

    Parameters
    ----------
    group : str
        A registered parameter group.
    settings : mrd.config.SynthesisSettings
        Priors and which values are varied.
    target : stimuli.records.Params
    k : int
    seed : int
    """
    g = get_group(group)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        p = copy_params(target)
        p[group] = g.draw(settings, target[group], rng)
        out.append(p)
    return out


def render_null_displays(
    renderer: Any, nulls: list[Params], group: str, *, spp: int, seed: int, exposure: float = 0.0
) -> np.ndarray:
    """Display images ``(K, V, H, W, 3)`` uint8 of null scenes (the renderer is left at the last one).

    Only ``group`` is rewritten per draw: the others must already hold the target's values.
    """
    from mrd.render.tonemap import display_image

    w, h = renderer.layout.size
    out = np.zeros((len(nulls), renderer.n_views, h, w, 3), np.uint8)
    for i, p in enumerate(nulls):
        renderer.set_params(p, (group,))
        out[i] = display_image(renderer.render_display(spp, stable_seed(seed, i)), exposure)
    return out
