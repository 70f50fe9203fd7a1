"""MAD-competition stimuli of one (scene, group, model pair): the start, the four searches, the records.

The start is the target with the group moved ``[probe.mad.start_size]`` (physical units) along a
random latent direction drawn from a seed derived from the config's seed and the ids; every search
(:func:`mrd.probes.mad.maximal_differentiation`) starts there: push A up (``max``) and down
(``min``) holding B, and, with ``swap``, push B holding A. Each result is rendered and scored as a
metamer is (:mod:`mrd.probes.render`) and stored as a :class:`stimuli.probes_io.ProbeRecord` with
both models' optimisation-regime curves (``curve_a``, ``curve_b``) and display-render distances.

Examples
--------
>>> mad_id("ball", "material", "pixels_32", "luminance", "max")
'ball.material.mad.pixels_32.vs.luminance.max'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mrd.probes.mad import ModelDistance, maximal_differentiation
from mrd.probes.render import display_distances, group_param, probe_renders, probe_seeds
from mrd.probes.steps import equal_steps, metric_name, physical_distance
from mrd.render.tonemap import describe as tone_map_name
from mrd.synthesis.seeds import stable_seed
from stimuli.errors import MRDError
from stimuli.probes_io import ProbeRecord


def mad_id(scene: str, group: str, model_a: str, model_b: str, direction: str) -> str:
    """Store id of one MAD stimulus (A pushed, B held)."""
    return f"{scene}.{group}.mad.{model_a}.vs.{model_b}.{direction}"


def searches(pair: tuple[str, str], swap: bool, minimise: bool) -> list[tuple[str, str, int]]:
    """``(A, B, direction)`` of every search a pair asks for.

    Examples
    --------
    >>> searches(("a", "b"), True, False)
    [('a', 'b', 1), ('b', 'a', 1)]
    """
    out = []
    for a, b in [pair] + ([(pair[1], pair[0])] if swap else []):
        out += [(a, b, d) for d in ((1, -1) if minimise else (1,))]
    return out


def mad_probes(
    cfg: Any, target: Any, models: Mapping[str, Any], group: str, pair: tuple[str, str],
    scoring: Mapping[str, Any], *, progress: Any = None,
) -> list[ProbeRecord]:  # fmt: skip
    """Every MAD stimulus of one (scene, group, pair) (module docstring).

    Parameters
    ----------
    cfg : mrd.probes.config.ProbeConfig
    target : mrd.synthesis.target.Target
    models : mapping of str to LoadedModel
        At least the pair's two models.
    group : str
    pair : (str, str)
        ``(A, B)`` model ids.
    scoring : mapping of str to LoadedModel
        Models every stimulus is scored under.
    progress : callable, optional
        Called with a status string after each search.
    """
    m = cfg.probe.mad
    param = group_param(cfg, target, group)
    seeds = [stable_seed(cfg.seed, target.scene_id, group, "mad", i) for i in range(m.seeds)]
    dist = {mid: ModelDistance(target.renderer, param, models[mid], spp=m.spp, seeds=seeds, kind=m.distance,
                               exposure=cfg.render.exposure) for mid in pair}  # fmt: skip
    codec = dist[pair[0]].codec
    values = lambda z: param.values(codec.latents(z))  # noqa: E731
    rng = np.random.default_rng(stable_seed(cfg.seed, target.scene_id, group, "mad start"))
    size = float(getattr(m.start_size, group, m.start_size.material))
    start = equal_steps(group, values, codec.z0, rng.standard_normal(codec.n), size, 1, signs=(1,))
    if not start:
        raise MRDError(f"probe.mad.start_size.{group} = {size}: no point of the group's range lies that far "
                       f"from scene {target.scene_id!r}; give a smaller start size")  # fmt: skip
    z_start = start[0]["z"]
    start_d = {mid: d.value(z_start) for mid, d in dist.items()}
    records = []
    cache: dict[str, Any] = {}
    for a, b, direction in searches(pair, m.swap, m.minimise):
        res = maximal_differentiation(dist[a], dist[b], z_start, direction=direction, steps=m.steps, lr=m.lr,
                                      hold=m.hold)  # fmt: skip
        name = "max" if direction > 0 else "min"
        pid = mad_id(target.scene_id, group, a, b, name)
        rseeds = probe_seeds(cfg.seed, pid, cfg.render.display_renders)
        vals = values(res.z)
        renders, params = probe_renders(cfg, target, group, vals, rseeds)
        records.append(ProbeRecord(
            probe_id=pid, scene_id=target.scene_id, group=group, probe="mad", model_id=a, model_b=b,
            direction=name, renders=renders, render_seeds=rseeds, params={group: params[group]},
            step_size=size, physical_distance=physical_distance(group, target.params[group], vals),
            metric=metric_name(group), vector=res.z - codec.z0, curve_a=np.asarray(res.a), curve_b=np.asarray(res.b),
            distances=display_distances(scoring, target, renders, kind=m.distance, cache=cache),
            tone_map=tone_map_name(cfg.render.exposure),
            info={"growth": res.growth, "hold_error": res.hold_error, "held": res.held, "hold": m.hold,
                  "iterations": res.iterations, "accepted": len(res.a) - 1, "start_distance": start_d,
                  "start_values": {k: np.asarray(v).tolist() for k, v in start[0]["values"].items()},
                  "start_physical_distance": float(start[0]["distance"]), "distance": m.distance,
                  "spp": m.spp, "seeds": seeds, "latent_names": codec.names},
        ))  # fmt: skip
        if progress:
            progress(f"{pid}: A x{res.growth:.2f}, B held to {100 * res.hold_error:.2f} %")
    target.reset()
    return records
