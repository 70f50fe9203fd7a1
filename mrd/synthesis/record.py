"""A finished :class:`mrd.synthesis.metamer.Metamer` as the :class:`stimuli.records.MetamerRecord` a store holds.

The metamer scene is rendered at display spp (``render.display_renders`` renders with their own seeds),
scored under every scoring model against the null draws, and judged by the strict criterion
(:meth:`Metamer.evaluate`); ``info`` describes how it was made (schedule, checks, restarts, times).

Examples
--------
>>> from mrd.config import RenderSettings, SceneSpec, SynthesisSettings
>>> from mrd.models import ModelSpec, load_model
>>> from mrd.render.variant import use_variant
>>> from mrd.synthesis.metamer import Metamer
>>> from mrd.synthesis.target import Target
>>> _ = use_variant("llvm_ad_rgb")
>>> settings = SynthesisSettings(render=RenderSettings(resolution=16, views=1, spp=2, display_spp=8, max_depth=2),
...                              optimize={"steps": 2, "target_renders": 1}, null={"draws": 1})
>>> target = Target.from_spec(SceneSpec(id="ball"), settings.render)
>>> model = load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))
>>> m = Metamer(target, model, "material", settings).setup(seed=0).synthesize()
>>> metamer_record(m).steps
2
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mrd.groups import copy_params
from mrd.render.tonemap import describe as tone_map_name
from mrd.render.tonemap import display_image
from stimuli.records import MetamerRecord

OPTIMISATION_NULLS = 16
"""Null draws (of the K) whose optimisation-regime similarity sets the loose stop rule's null maximum."""


def metamer_record(m: Any) -> MetamerRecord:
    """Render at display spp, score under every scoring model and describe the metamer for the store.

    Parameters
    ----------
    m : mrd.synthesis.metamer.Metamer
        A set-up (and usually synthesised) metamer; its renderer is left at the target's values.

    Returns
    -------
    stimuli.records.MetamerRecord
    """
    from mrd.synthesis.restarts import restart_info, restarts_for
    from mrd.synthesis.similarity import score_images

    s, o, r, t, name = m.settings, m.settings.optimize, m.settings.render, m.target, m.group.name
    res = m._run.result()
    final_params, initial_params = copy_params(t.params), copy_params(t.params)
    final_params[name], initial_params[name] = res.final, res.initial
    t.renderer.set_params(final_params, (name,))
    hdr = t.renderer.render_display(r.display_spp, m.seeds.display)
    display = display_image(hdr, r.exposure)
    t.reset()
    seeds = [m.seeds.display_render(i) for i in range(r.display_renders)]
    renders = np.concatenate([display[None], m.display_renders(final_params, seeds[1:])]) if len(seeds) > 1 \
        else display[None]  # fmt: skip

    null_display = m.null_display_images
    similarity = {mid: score_images(sm, t.display, display, null_display) for mid, sm in m.scoring_models.items()}
    evaluation = m.evaluate(renders)
    distance = m.group.distance(t.params[name], res.final)
    info = dict(
        res.info, start="explicit" if m.explicit_start else "prior", distance=o.distance,
        target_renders=o.target_renders, null_max_cosine_optimisation=m.null_max,
        noise_ceiling_optimisation=m.noise_ceiling,
        similarity_curve=[round(float(x), 6) for x in res.similarity],
        total_time_s=time.perf_counter() - m.t_start, config_title=getattr(s, "title", ""),
    )  # fmt: skip
    info["criterion_graded"] = jsonable(evaluation.graded)
    info["optimisation_null_draws"] = min(OPTIMISATION_NULLS, len(null_display))
    if m.store_progress:
        info["store_progress"] = m.store_progress
    if restarts_for(o, name):
        info.update(jsonable(restart_info(m)))
    record = MetamerRecord(
        metamer_id=m.seeds.metamer_id, scene_id=t.scene_id, model_id=m.model_id,
        layers=list(m.model.record.layers), group=name, seed=m.seed,
        initial_params=initial_params, final_params=final_params,
        display=display, hdr=hdr, loss=res.loss, steps=res.steps, wall_time_s=res.wall_time_s,
        converged=res.converged, success=evaluation.success, similarity=similarity, physical_distance=distance,
        tone_map=tone_map_name(r.exposure), null_display=null_display, info=info,
        renders=renders, render_seeds=seeds, criterion=evaluation.criterion,
    )  # fmt: skip
    if m.snapshots and hasattr(record, "progress"):
        record.progress = {k: dict(v) for k, v in m.snapshots.items()}
    return record


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and non-finite floats as None (for ``info``).

    Examples
    --------
    >>> jsonable({"a": np.float32(0.5), "b": [np.int64(2), float("nan")]})
    {'a': 0.5, 'b': [2, None]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else round(float(value), 6)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    return value
