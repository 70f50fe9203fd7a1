"""A model metamer of a rendered scene: :class:`Metamer`, the object a notebook holds.

Built from a target scene (:class:`mrd.synthesis.target.Target`), a model (with its layers), a
parameter group and settings (:class:`mrd.config.SynthesisSettings`). :meth:`Metamer.setup` draws
(or takes) the start and builds the objective (target: mean activation of noisy target renders),
the noise ceiling and the null reference; :meth:`Metamer.synthesize` optimises (call it again to go
on); then the attributes hold the curves and the outcome, :meth:`Metamer.render` renders the
current scene, and :meth:`Metamer.to_record` scores it (on the 8-bit display images, under every
scoring model, against the null draws) into the :class:`stimuli.records.MetamerRecord` a store
holds. All seeds come from :class:`mrd.synthesis.seeds.Seeds`.

Examples
--------
>>> from mrd.config import RenderSettings, SceneSpec, SynthesisSettings
>>> from mrd.models import ModelSpec, load_model
>>> from mrd.render.variant import use_variant
>>> _ = use_variant("llvm_ad_rgb")
>>> settings = SynthesisSettings(render=RenderSettings(resolution=16, views=1, spp=2, display_spp=8, max_depth=2),
...                              optimize={"steps": 3, "target_renders": 1}, null={"draws": 1})
>>> target = Target.from_spec(SceneSpec(id="ball"), settings.render)
>>> model = load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))
>>> m = Metamer(target, model, "material", settings).setup(seed=0)
>>> m.synthesize().steps, m.stop_reason in ("max_steps", "success")
(3, True)
>>> m.to_record().display.shape
(1, 16, 16, 3)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mrd.groups import copy_params, get_group
from mrd.render.tonemap import display_image
from mrd.synthesis.null import null_params, render_null_displays
from mrd.synthesis.record import OPTIMISATION_NULLS
from mrd.synthesis.seeds import Seeds
from mrd.synthesis.target import Target
from stimuli.records import MetamerRecord, Params


class Metamer:
    """One metamer synthesis (see the module docstring).

    Parameters
    ----------
    target : Target
        The target scene (its renderer is shared and left at the target's values between calls).
    model : mrd.models.LoadedModel
        The generating model (its recorded layers are matched).
    group : str
        A registered parameter group (:func:`mrd.groups.group_names`).
    settings : mrd.config.SynthesisSettings
        Render, optimisation, prior and null settings (a whole :class:`mrd.config.SetConfig` works too).
    scoring_models : mapping of str to LoadedModel, optional
        Models the result is scored under (default: the generating model only).
    null_display : numpy.ndarray, optional
        Display images of the null draws, if already rendered (they are shared by every model and
        seed of a scene and group).
    store_progress : int
        Keep the group's values every this many steps (0: off); stored in the record.
    progress : bool
        Show a per-step progress bar.

    Attributes
    ----------
    losses, similarities : numpy.ndarray
        Loss and mean cosine similarity of each step (optimisation renders).
    stop_reason : str or None
    threshold : float or None
        Success threshold of the stop rule (optimisation regime).
    null_max : float or None
        Largest similarity of a null draw in the optimisation regime.
    noise_ceiling : float or None
        Mean similarity of fresh target renders in the optimisation regime.
    start, final : dict
        The group's values at the start and now.
    snapshots : dict of int to dict
        ``store_progress`` snapshots ``{step: values}``.
    """

    def __init__(
        self, target: Target, model: Any, group: str, settings: Any, *, model_id: str | None = None,
        scoring_models: Mapping[str, Any] | None = None, null_display: np.ndarray | None = None,
        store_progress: int = 0, progress: bool = False, layer: str | None = None,
    ) -> None:  # fmt: skip
        self.target, self.settings, self.layer = target, settings, layer
        self.model = model if layer is None else model.restricted([layer])
        self.group = get_group(group)
        self.model_id = model_id or model.record.model_id
        self.scoring_models = dict(scoring_models) if scoring_models else {self.model_id: model}
        self.null_display_images = null_display
        self.store_progress, self.progress = int(store_progress), progress
        self.snapshots: dict[int, dict[str, np.ndarray]] = {}
        self._run: Any = None
        self.explicit_start = False

    # -- set-up --------------------------------------------------------------------------------
    def setup(self, start: Any = None, seed: int = 0, start_values: dict[str, np.ndarray] | None = None) -> Metamer:
        """Draw (or take) the start and build the objective, noise ceiling and null reference.

        Parameters
        ----------
        start : optional
            An explicit start: a config ``StartSpec``-like object with an attribute per group, the
            group's own explicit-start entry, or None for a prior draw.
        seed : int
            The job seed (start draw and render seeds derive from it).
        start_values : dict, optional
            The group's start values themselves (e.g. the result of a coarser stage); overrides ``start``.

        Returns
        -------
        Metamer
            ``self``.
        """
        from mrd.synthesis.objective import Objective, mean_features, noise_ceiling

        s, o, r, t = self.settings, self.settings.optimize, self.settings.render, self.target
        name = self.group.name
        self.seed = int(seed)
        self.seeds = Seeds(s.seed, t.scene_id, name, self.model_id, self.seed, self.layer)
        self.t_start = time.perf_counter()
        if self.null_display_images is None:
            self.null_display_images = self.render_null()
        explicit = getattr(start, name, start) if start is not None else None
        self.explicit_start = explicit is not None
        self._explicit, self._drawn = explicit, start_values is None  # what a restart draws again
        if start_values is None:
            start_values = self.draw_start(0)
        else:
            self.explicit_start = True
        param = self.group.parametrise(start_values, s, t.params)

        ren, kind, sd = t.renderer, param.integrator, self.seeds
        t.reset()
        kw = {"spp": r.spp, "integrator": kind, "exposure": r.exposure}
        feats = mean_features(ren, self.model, seed=sd.target_features, n=o.target_renders, **kw)
        self.objective = Objective(self.model, feats, kind=o.distance, exposure=r.exposure, gradient=o.gradient)
        self.noise_ceiling = noise_ceiling(ren, self.objective, spp=r.spp, seed=sd.ceiling, integrator=kind)
        sims = []
        for i, p in enumerate(self.null_draws()[:OPTIMISATION_NULLS]):
            ren.set_params(p, (name,))
            sims.append(self.objective.similarity(mean_features(ren, self.model, seed=sd.null_features(i), **kw)))
        t.reset()
        self.null_max = float(max(sims)) if sims else None

        self.attempts: list[Any] = []
        self.restart_note: str | None = None
        self._run = None
        self._reference_feats: dict[str, Any] | None = None
        self.begin(start_values, 0, param)
        return self

    def begin(self, start_values: dict[str, np.ndarray], attempt: int, param: Any = None) -> None:
        """Start optimisation attempt ``attempt`` (0, or a restart: :mod:`mrd.synthesis.restarts`) from
        ``start_values``; the objective, noise ceiling and null reference stay."""
        from mrd.synthesis.objective import mean_features
        from mrd.synthesis.optimize import Optimization, Schedule
        from mrd.synthesis.stop import StopRule

        s, o, r, t, sd, name = self.settings, self.settings.optimize, self.settings.render, self.target, self.seeds, \
            self.group.name  # fmt: skip
        param = param if param is not None else self.group.parametrise(start_values, s, t.params)
        ren, kind = t.renderer, param.integrator
        ren.set_params({name: start_values}, (name,))
        experiment = getattr(o, "mode", "demo") == "experiment"
        rule = StopRule(steps=o.steps, window=o.convergence_window, tol=o.convergence_tol,
                        stop_on_success=o.stop_on_success and not experiment, fraction=o.success_fraction)  # fmt: skip
        schedule = Schedule.from_settings(s)

        def target_at(spp: int) -> Any:  # the objective's target at a ramp level (then back to the iterate)
            t.reset()
            feats = mean_features(ren, self.model, seed=sd.target_features + 7919 * spp, n=o.target_renders,
                                  spp=spp, integrator=kind, exposure=r.exposure)  # fmt: skip
            ren.set_params({name: self._run.values()}, (name,))
            return feats

        previous = self._run
        self._run = Optimization(ren, param, self.objective, lr=self.group.learning_rate(s), spp=r.spp,
                                 seed=sd.render_of(attempt), rule=rule, null_max=self.null_max,
                                 ceiling=self.noise_ceiling, schedule=schedule, target_at=target_at)  # fmt: skip
        if previous is not None:  # ramp-level targets do not depend on the attempt
            self._run.targets.update(previous.targets)
        self.attempt, self.attempt_start = attempt, start_values
        self.snapshots = {}
        self._forget_start()

    def draw_start(self, attempt: int) -> dict[str, np.ndarray] | None:
        """The start values of restart ``attempt`` (None when the start was given as values: nothing to draw)."""
        if not self._drawn:
            return None
        s = self.settings
        rng = np.random.default_rng(self.seeds.start_of(attempt))
        return self.group.start_values(s, self.target.params[self.group.name], rng, self._explicit,
                                       getattr(s, "resolve", None) or Path)  # fmt: skip

    def resume_attempt(self, attempt: Any) -> None:
        """Make an ended attempt (:class:`mrd.synthesis.restarts.Attempt`) the metamer's current one."""
        self._run, self.attempt, self.attempt_start = attempt.run, attempt.attempt, attempt.start
        self.snapshots = dict(attempt.snapshots)
        self.target.renderer.set_params({self.group.name: self._run.values()}, (self.group.name,))
        self._forget_start()

    def _forget_start(self) -> None:  # the criterion's start renders belong to the current attempt
        self.start_renders = None
        if self._reference_feats:
            self._reference_feats.pop("start", None)

    def null_draws(self) -> list[Params]:
        """The null scenes (target with the group drawn from its prior), ``[null] draws`` of them."""
        s = self.settings
        return null_params(self.group.name, s, self.target.params, s.null.draws, Seeds(
            s.seed, self.target.scene_id, self.group.name, self.model_id, 0).null_draws)  # fmt: skip

    def render_null(self) -> np.ndarray:
        """Display images ``(K, V, H, W, 3)`` of the null draws (the renderer is reset afterwards)."""
        s, t = self.settings, self.target
        seed = Seeds(s.seed, t.scene_id, self.group.name, self.model_id, 0).null_display
        t.reset()
        out = render_null_displays(t.renderer, self.null_draws(), self.group.name, spp=s.render.display_spp,
                                   seed=seed, exposure=s.render.exposure)  # fmt: skip
        t.reset()
        return out

    # -- optimisation --------------------------------------------------------------------------
    def synthesize(self, max_steps: int | None = None) -> Metamer:
        """Optimise until the stop rule fires (or ``max_steps`` more steps); call again to go on.

        With ``[optimize] restarts`` an attempt the criterion refuses is followed by one from a new start
        (:mod:`mrd.synthesis.restarts`); ``max_steps`` counts the steps of all attempts.

        Returns
        -------
        Metamer
            ``self``.
        """
        from mrd.synthesis.restarts import end_attempt, restarts_for

        if self._run is None:
            self.setup()
        left = max_steps
        while True:
            run = self._run
            before = run.step
            self._run_attempt(left)
            if left is not None:
                left -= run.step - before
            ended = run.done or run.step >= run.rule.steps
            if not ended or not restarts_for(self.settings.optimize, self.group.name) or self._judged(run):
                return self
            if not end_attempt(self) or (left is not None and left <= 0):
                return self

    def _judged(self, run: Any) -> bool:  # whether this ended attempt was judged already (a call after the end)
        return any(a.run is run for a in self.attempts)

    def _run_attempt(self, max_steps: int | None) -> None:
        run = self._run
        bar = _step_bar(f"{self.seeds.metamer_id}" + (f" restart {self.attempt}" if self.attempt else ""),
                        self.settings.optimize.steps, self.progress, run.step)  # fmt: skip
        every = self.store_progress

        def on_step(step: int, loss: float, sim: float) -> None:
            if bar is not None:
                bar.set_postfix(loss=f"{loss:.4f}", sim=f"{sim:.4f}", refresh=False)
                bar.update(1)
            if every and (step + 1) % every == 0:
                self.snapshots[step + 1] = run.values()

        if run.step > 0:  # going on: the renderer may have been reset to the target in between
            self.target.renderer.set_params({self.group.name: run.values()}, (self.group.name,))
        try:
            run.run(max_steps, on_step, self._check if run.schedule.check_every else None)
        finally:
            if bar is not None:
                bar.close()

    def _check(self, step: int, values: dict[str, np.ndarray]) -> dict[str, Any]:
        """Experiment mode: the strict criterion on fresh display renders of the current values."""
        return self.judge(values, self.seeds.check(step, self.attempt))

    def judge(self, values: dict[str, np.ndarray], base: int) -> dict[str, Any]:
        """The strict criterion on ``criterion.check_renders`` fresh display renders (seeds ``base``, ``base + 1``,
        ...) of the group at ``values``, a pass confirmed on as many more; the renderer is left at ``values``."""
        crit = self.settings.criterion
        p = self.params()
        p[self.group.name] = values

        def once(base: int) -> Any:  # the criterion on check_renders fresh renders with seeds base, base + 1, ...
            return self.evaluate(self.display_renders(p, [base + i for i in range(crit.check_renders)]), seed=base)

        ev = once(base)
        out = {"passed": ev.success, "oddity_pc": round(ev.criterion["oddity_pc"], 4),
               "null_p": round(ev.criterion["null_p"], 4), "beats_start": ev.criterion["beats_start"],
               "distance_ratio": round(float(ev.graded.get("distance_ratio", float("nan"))), 4)}  # fmt: skip
        if ev.success:  # stopping at the first lucky check would select noise: confirm on fresh renders
            again = once(base + 7_919 * crit.check_renders)
            out["confirm_oddity_pc"] = round(again.criterion["oddity_pc"], 4)
            out["confirm_null_p"] = round(again.criterion["null_p"], 4)
            out["passed"] = bool(again.success)
        self.target.renderer.set_params({self.group.name: values}, (self.group.name,))
        return out

    # -- the criterion -------------------------------------------------------------------------
    def display_renders(self, params: Params, seeds: list[int]) -> np.ndarray:
        """Display images ``(R, V, H, W, 3)`` of a scene (only this group differs from the target)."""
        r, t, name = self.settings.render, self.target, self.group.name
        t.renderer.set_params(params, (name,))
        out = np.stack([display_image(t.renderer.render_display(r.display_spp, s), r.exposure) for s in seeds])
        t.reset()
        return out

    def evaluate(self, metamer_renders: np.ndarray, seed: int | None = None) -> Any:
        """The strict criterion (:class:`mrd.synthesis.criterion.Criterion`) of metamer renders
        ``(R, V, H, W, 3)`` under the generating model: target renders, start renders and null draws."""
        from mrd.synthesis.criterion import Criterion
        from mrd.synthesis.distances import render_features

        s, t = self.settings, self.target
        crit = s.criterion
        if self.start_renders is None:
            n = max(2, min(4, s.render.display_renders))
            self.start_renders = self.display_renders(self.params("start"), [self.seeds.start_render(i) for i in range(n)])
        m = self.model
        if self._reference_feats is None:  # the same for every check of this metamer
            self._reference_feats = {k: render_features(m, v) for k, v in (
                ("target", t.renders), ("null", self.null_display_images))}  # fmt: skip
        if "start" not in self._reference_feats:  # the same for every check of this attempt
            self._reference_feats["start"] = render_features(m, self.start_renders)
        feats = dict(self._reference_feats, metamer=render_features(m, metamer_renders))
        rule = Criterion(oddity_pc_max=crit.oddity_pc_max, null_alpha=crit.null_alpha, n_triplets=crit.triplets,
                         kind=s.optimize.distance)  # fmt: skip
        return rule.evaluate(feats["target"], feats["metamer"], feats["start"], feats["null"],
                             rng=self.seeds.triplets if seed is None else seed)  # fmt: skip

    # -- state -------------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        return 0 if self._run is None else self._run.step

    @property
    def losses(self) -> np.ndarray:
        return np.asarray([] if self._run is None else self._run.losses, np.float64)

    @property
    def similarities(self) -> np.ndarray:
        return np.asarray([] if self._run is None else self._run.sims, np.float64)

    @property
    def stop_reason(self) -> str | None:
        return None if self._run is None else self._run.reason

    @property
    def threshold(self) -> float | None:
        if self._run is None or self.null_max is None:
            return None
        return self._run.rule.threshold(self.null_max, self.noise_ceiling)

    @property
    def start(self) -> dict[str, np.ndarray]:
        return self._run.initial

    @property
    def final(self) -> dict[str, np.ndarray]:
        return self._run.values()

    def params(self, which: str = "final") -> Params:
        """Every group's values with this group at its ``"start"`` or ``"final"`` values."""
        p = copy_params(self.target.params)
        p[self.group.name] = self.start if which == "start" else self.final
        return p

    def render(self, spp: int | None = None, seed: int | None = None) -> np.ndarray:
        """Linear HDR renders ``(V, H, W, 3)`` of the current metamer scene (default: display spp and seed)."""
        s, t, name = self.settings, self.target, self.group.name
        t.renderer.set_params(self.params(), (name,))
        hdr = t.renderer.render_display(spp or s.render.display_spp, self.seeds.display if seed is None else seed)
        t.reset()
        return hdr

    # -- the record ----------------------------------------------------------------------------
    def to_record(self) -> MetamerRecord:
        """Render at display spp, score under every scoring model and describe the metamer for the store
        (:func:`mrd.synthesis.record.metamer_record`)."""
        from mrd.synthesis.record import metamer_record

        return metamer_record(self)


def _step_bar(desc: str, total: int, enabled: bool, initial: int = 0) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, leave=False, unit="step", dynamic_ncols=True)
