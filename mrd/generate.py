"""From a stimulus-set config to a stimulus set: models, target scenes, metamers.

For every metamer job (scene x group x model x seed) the generator

1. renders the target (already in the store, or rendered and stored first) and takes the mean
   activation of several noisy target renders at the optimisation spp as the objective's target;
2. renders K null scenes (the target with the varied group drawn from its prior) for display;
3. draws (or reads) the start, optimises the varied group (:func:`mrd.optimize.optimize`),
   renders the result at display spp, scores it against the target under *every* model of the
   config (on the stored 8-bit display images, with the null reference), and stores the metamer.

Everything outside the varied group is the target's own arrays. Units are durable as soon as
they are written, so a re-run resumes and skips finished metamers; all seeds derive from the
config's ``seed`` and the unit's ids (:func:`mrd.null.stable_seed`), so the same config on the
same machine gives the same result.

Examples
--------
>>> from pathlib import Path
>>> cfg, _ = __import__("mrd.config", fromlist=["x"]).load_config(
...     Path(__file__).parents[1] / "stimuli" / "sets" / "demo.toml")
>>> len(cfg.jobs())
4
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mrd.config import Job, SetConfig, load_config
from mrd.null import null_params, render_null_displays, stable_seed, start_values
from mrd.scene import copy_params, describe, layout_for, target_params
from mrd.tonemap import describe as tone_map_name
from mrd.tonemap import display_image
from stimuli.errors import MRDError
from stimuli.records import MetamerRecord, Params, SceneRecord


@dataclass
class GenerateSummary:
    """What a :func:`generate` run did."""

    out: Path
    made: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    scenes_made: list[str] = field(default_factory=list)
    variant: str = ""
    device: str = ""
    executor: str = "local"


@dataclass
class _SceneState:
    renderer: Any
    params: Params
    display: np.ndarray


class Generator:
    """Makes the units of one config (see the module docstring); used by :func:`generate`.

    Parameters
    ----------
    cfg : mrd.config.SetConfig
    device : str
        Torch device of the models.
    progress : bool
        Show per-step progress bars.
    """

    def __init__(self, cfg: SetConfig, device: str = "cpu", progress: bool = True) -> None:
        self.cfg, self.device, self.progress = cfg, device, progress
        self.models: dict[str, Any] = {}
        self.scenes: dict[str, _SceneState] = {}
        self._nulls: dict[tuple[str, str], np.ndarray] = {}

    # -- models and scenes -------------------------------------------------------------------
    def load_models(self) -> dict[str, Any]:
        """Load every model of the config (once)."""
        from mrd.models import load_model

        if not self.models:
            for spec in self.cfg.models:
                self.models[spec.model_id] = load_model(spec, self.device)
        return self.models

    def scene(
        self, scene_id: str, stored_display: np.ndarray | None = None
    ) -> tuple[_SceneState, SceneRecord | None]:
        """The scene's renderer and target; a new :class:`SceneRecord` when it was not stored yet."""
        from mrd.render import Renderer

        if scene_id in self.scenes:
            return self.scenes[scene_id], None
        spec, r = self.cfg.scene(scene_id), self.cfg.render
        layout = layout_for(spec, r)
        params = target_params(spec, self.cfg.resolve)
        renderer = Renderer(layout, params)
        record = None
        if stored_display is None:
            hdr = renderer.render_display(r.display_spp, stable_seed(self.cfg.seed, scene_id, "display"))
            display = display_image(hdr, r.exposure)
            record = SceneRecord(
                scene_id=scene_id,
                description=describe(layout, params, spec),
                params=copy_params(params),
                views=layout.views,
                hdr=hdr,
                display=display,
                spp=r.display_spp,
                tone_map=tone_map_name(r.exposure),
            )
        else:
            display = stored_display
        self.scenes[scene_id] = _SceneState(renderer, params, display)
        return self.scenes[scene_id], record

    def _null_draws(self, scene_id: str, group: str) -> list[Params]:
        o = self.cfg.optimize
        seed = stable_seed(self.cfg.seed, scene_id, group, "null")
        return null_params(group, self.cfg.prior, self.scenes[scene_id].params, self.cfg.null.draws, seed,
                           vary_material=o.vary_material, vary_lighting=o.vary_lighting)  # fmt: skip

    def null_display(self, scene_id: str, group: str) -> np.ndarray:
        """Display images ``(K, V, H, W, 3)`` of the (scene, group) null draws (cached per run)."""
        key = (scene_id, group)
        if key not in self._nulls:
            st, r = self.scenes[scene_id], self.cfg.render
            st.renderer.set_params(st.params)
            seed = stable_seed(self.cfg.seed, scene_id, group, "null-display")
            self._nulls[key] = render_null_displays(
                st.renderer, self._null_draws(scene_id, group), group, spp=r.display_spp, seed=seed,
                exposure=r.exposure,
            )  # fmt: skip
            st.renderer.set_params(st.params)
        return self._nulls[key]

    def _objective(self, job: Job, model: Any, integrator: str, seed: int) -> tuple[Any, float | None, float]:
        """The objective (target: mean activation of noisy target renders at the optimisation spp),
        the largest null similarity and the noise ceiling in the same regime (for the success stop)."""
        from mrd.optimize import Objective, mean_features, noise_ceiling

        o, r = self.cfg.optimize, self.cfg.render
        st = self.scenes[job.scene]
        ren = st.renderer
        ren.set_params(st.params)
        kw = {"spp": r.spp, "integrator": integrator, "exposure": r.exposure}
        target = mean_features(ren, model, seed=seed + 1_000_003, n=o.target_renders, **kw)
        objective = Objective(model, target, kind=o.distance, exposure=r.exposure)
        ceiling = noise_ceiling(ren, objective, spp=r.spp, seed=seed + 3_000_017, integrator=integrator)
        sims = []
        for i, p in enumerate(self._null_draws(job.scene, job.group)):
            ren.set_params(p, (job.group,))
            feats = mean_features(ren, model, seed=seed + 2_000_003 + i * 997, **kw)
            sims.append(objective.similarity(feats))
        ren.set_params(st.params)
        return objective, (float(max(sims)) if sims else None), ceiling

    # -- one metamer -------------------------------------------------------------------------
    def metamer(self, job: Job) -> MetamerRecord:
        """Optimise, render, score and describe one metamer."""
        from mrd.groups import make_group
        from mrd.optimize import StopRule, optimize
        from mrd.physical import physical_distance
        from mrd.similarity import score_images

        cfg, o, r = self.cfg, self.cfg.optimize, self.cfg.render
        models = self.load_models()
        model = models[job.model]
        st = self.scenes[job.scene]
        null_display = self.null_display(job.scene, job.group)
        ren = st.renderer
        t_start = time.perf_counter()

        rng = np.random.default_rng(stable_seed(cfg.seed, job.scene, job.group, job.seed, "start"))
        start = start_values(job.group, cfg.prior, st.params, rng, job.start, resolve=cfg.resolve,
                             vary_material=o.vary_material, vary_lighting=o.vary_lighting)  # fmt: skip
        group = make_group(job.group, start, vary_material=o.vary_material, vary_lighting=o.vary_lighting,
                           lambda_=o.largesteps_lambda, remesh_edge_scale=o.remesh_edge_scale)  # fmt: skip
        seed = stable_seed(cfg.seed, job.metamer_id, "render")
        objective, null_max_opt, ceiling = self._objective(job, model, group.integrator, seed)

        ren.set_params({job.group: start}, (job.group,))
        rule = StopRule(steps=o.steps, window=o.convergence_window, tol=o.convergence_tol,
                        stop_on_success=o.stop_on_success, fraction=o.success_fraction)  # fmt: skip
        bar = _step_bar(job.metamer_id, o.steps, self.progress)
        try:
            res = optimize(
                ren, group, objective, lr=getattr(o.lr, job.group), spp=r.spp, seed=seed, rule=rule,
                null_max=null_max_opt, ceiling=ceiling, remesh_every=o.remesh_every if job.group == "shape" else 0,
                on_step=bar.update if bar else None,
            )  # fmt: skip
        finally:
            if bar:
                bar.close()

        final_params, initial_params = copy_params(st.params), copy_params(st.params)
        final_params[job.group], initial_params[job.group] = res.final, res.initial
        ren.set_params(final_params, (job.group,))
        hdr = ren.render_display(r.display_spp, stable_seed(cfg.seed, job.metamer_id, "display"))
        display = display_image(hdr, r.exposure)
        ren.set_params(st.params)

        similarity = {mid: score_images(m, st.display, display, null_display) for mid, m in models.items()}
        own = similarity[job.model]
        success = bool(null_display.shape[0] > 0 and own.mean_cosine > own.null_max_cosine)
        distance = physical_distance(job.group, st.params[job.group], res.final)
        explicit = job.start is not None and getattr(job.start, job.group) is not None
        info = dict(
            res.info, start="explicit" if explicit else "prior", distance=o.distance,
            target_renders=o.target_renders, null_max_cosine_optimisation=null_max_opt,
            noise_ceiling_optimisation=ceiling,
            similarity_curve=[round(float(s), 6) for s in res.similarity],
            total_time_s=time.perf_counter() - t_start, config_title=cfg.title,
        )  # fmt: skip
        return MetamerRecord(
            metamer_id=job.metamer_id, scene_id=job.scene, model_id=job.model,
            layers=list(model.record.layers), group=job.group, seed=job.seed,
            initial_params=initial_params, final_params=final_params,
            display=display, hdr=hdr, loss=res.loss, steps=res.steps, wall_time_s=res.wall_time_s,
            converged=res.converged, success=success, similarity=similarity, physical_distance=distance,
            tone_map=tone_map_name(r.exposure), null_display=null_display, info=info,
        )  # fmt: skip


class _StepBar:
    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def update(self, step: int, loss: float, similarity: float) -> None:
        self.bar.set_postfix(loss=f"{loss:.4f}", sim=f"{similarity:.4f}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _step_bar(desc: str, total: int, enabled: bool) -> _StepBar | None:
    if not enabled:
        return None
    from tqdm import tqdm

    return _StepBar(tqdm(total=total, desc=desc, leave=False, unit="step", dynamic_ncols=True))


def _stored_displays(out: Path, scene_ids: list[str]) -> dict[str, np.ndarray]:
    from stimuli import StimulusSet

    if not out.exists() or not scene_ids:
        return {}
    with StimulusSet(out) as s:
        return {sid: s.scene_display(sid) for sid in scene_ids}


def generate(
    config: str | Path,
    out: str | Path,
    *,
    variant: str | None = None,
    device: str | None = None,
    progress: bool = True,
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
) -> GenerateSummary:
    """Generate (or resume) the stimulus set a config describes.

    Models and target scenes are made here; metamer jobs run on ``executor``
    (:mod:`mrd.executor`: ``"local"``, this process, or ``"ray"``, Ray workers) through one job
    function, and only this process writes the store, as results come back.

    Parameters
    ----------
    config : path-like
        The TOML config.
    out : path-like
        The store (``.h5``); created, or resumed if it was made from the same config.
    variant : str, optional
        Mitsuba variant; overrides the config's ``variant``.
    device : str, optional
        Torch device of the models (default: the renderer's: ``cuda`` for ``cuda_ad_rgb``).
    progress : bool
        Show progress bars (per metamer, and per step with loss and similarity).
    executor : {"local", "ray"}
        Where metamer jobs run.
    address : str, optional
        Ray only: address of a running cluster (default: start a local Ray instance).
    workers : int, optional
        Ray only: number of workers (default: one per GPU of the cluster, else one per machine).

    Returns
    -------
    GenerateSummary

    Examples
    --------
    >>> import tempfile, os
    >>> demo = Path(__file__).parents[1] / "stimuli" / "sets" / "demo.toml"
    >>> callable(generate) and demo.exists()
    True
    """
    from tqdm import tqdm

    from mrd.executor import JobSpec, RunContext, make_executor, register_generator
    from mrd.variant import torch_device_for, use_variant
    from stimuli import StoreWriter

    ex = make_executor(executor, address=address, workers=workers)
    cfg, text = load_config(config)
    chosen = use_variant(variant or cfg.variant)
    dev = torch_device_for(chosen, device)
    out = check_out_path(out)
    summary = GenerateSummary(out=out, variant=chosen, device=dev)
    gen = Generator(cfg, dev, progress)
    ctx = RunContext(text, str(config), str(Path(config).resolve().parent), variant, device)
    register_generator(ctx, gen)
    jobs = cfg.jobs()
    with StoreWriter(out, config_text=text) as w:
        todo = [j for j in jobs if not w.has_metamer(j.metamer_id)]
        summary.skipped = [j.metamer_id for j in jobs if w.has_metamer(j.metamer_id)]
        needed = [s.id for s in cfg.scenes if not w.has_scene(s.id) or any(j.scene == s.id for j in todo)]
        stored = _stored_displays(out, [sid for sid in needed if w.has_scene(sid)])
        if todo:
            for mid, m in gen.load_models().items():
                if not w.has_model(mid):
                    w.add_model(m.record)
        for sid in tqdm(needed, desc="targets", unit="scene", disable=not progress or not needed):
            _, rec = gen.scene(sid, stored.get(sid))
            if rec is not None:
                w.add_scene(rec)
                summary.scenes_made.append(sid)
        specs = [JobSpec(job, gen.scenes[job.scene].display) for job in todo]
        results = ex.run(ctx, specs)
        for record in tqdm(results, total=len(specs), desc="metamers", unit="metamer", disable=not progress or not todo):
            w.add_metamer(record)
            summary.made.append(record.metamer_id)
        summary.executor = ex.describe()
    return summary


def check_out_path(out: str | Path) -> Path:
    """Refuse output paths that cannot be a store file.

    Examples
    --------
    >>> check_out_path("/tmp/x.h5").suffix
    '.h5'
    """
    p = Path(out)
    if p.exists() and p.is_dir():
        raise MRDError(f"--out {p}: is a folder; give a file name such as {p / 'set.h5'}")
    if p.suffix.lower() not in (".h5", ".hdf5"):
        raise MRDError(f"--out {p}: the stimulus set is an HDF5 file; use a name ending in .h5")
    return p
