"""Render, optimisation, prior and null-reference settings of a stimulus-set config.

:class:`SynthesisSettings` bundles what making one metamer needs besides the scene and the model
(:class:`mrd.synthesis.Metamer` takes it); a whole config (:class:`mrd.config.SetConfig`) is
these settings plus models, scenes and jobs.

Examples
--------
>>> RenderSettings(resolution=[96, 64]).size
(96, 64)
>>> SynthesisSettings().optimize.lr.material
0.05
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mrd.groups.lighting import LIGHTING_PARAMS, LightingPrior
from mrd.groups.material import MATERIAL_PARAMS, MaterialPrior
from mrd.groups.shape import ShapePrior
from mrd.render.scene import SHAPE_SPPC, SHAPE_SPPP
from mrd.specbase import Flag, Integer, Number, StrictModel, Text


class RenderSettings(StrictModel):
    """Resolution, samples, cameras and tone mapping."""

    resolution: Integer(ge=8, le=4096) | list[Integer(ge=8, le=4096)] = Field(64, description="pixels: N for N x N, or [width, height]")
    spp: Integer(ge=1, le=4096) = Field(8, description="samples per pixel during optimisation")
    display_spp: Integer(ge=1, le=65536) = Field(256, description="samples per pixel of stored renders")
    views: Integer(ge=1, le=64) = 4
    layout: Literal["ring", "fibonacci"] = "ring"
    distance: Number(gt=0, le=1e3) = Field(3.5, description="camera distance from the object centre")
    fov: Number(gt=1, lt=170) = Field(35.0, description="horizontal field of view, degrees")
    elevation: Number(ge=-89, le=89) = Field(20.0, description="ring: camera elevation, degrees")
    max_depth: Integer(ge=2, le=16) = Field(3, description="path depth for material/lighting and display renders")
    exposure: Number(ge=-16, le=16) = Field(0.0, description="tone map exposure, stops")
    display_renders: Integer(ge=1, le=64) = Field(
        8,
        description="independent display renders (distinct seeds) of every target and metamer: trials show "
        "three different renders, and the success criterion compares renders with renders (its verdict's "
        "render-level sd for a perfect metamer: 0.05 at 8, 0.11 at 4)",
    )
    env_resolution: Integer(ge=4, le=1024) = Field(32, description="gradient environment map height")

    @field_validator("resolution")
    @classmethod
    def _res(cls, v: int | list[int]) -> int | list[int]:
        vals = [v] if isinstance(v, int) else v
        if len(vals) not in (1, 2) or any(x < 8 or x > 4096 for x in vals):
            raise ValueError("must be an integer or [width, height] with values in 8..4096")
        return v

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        r = self.resolution
        return (r, r) if isinstance(r, int) else (r[0], r[-1])


class LearningRates(StrictModel):
    """Adam learning rate per parameter group (latent units: logits, log radiance, LargeSteps)."""

    shape: Number(gt=0, le=10) = 0.01
    material: Number(gt=0, le=10) = 0.05
    lighting: Number(gt=0, le=10) = 0.05


class OptimizeSettings(StrictModel):
    """Optimisation: steps, learning rates, objective, stopping and shape regularisation."""

    steps: Integer(ge=1, le=100000) = 100
    lr: LearningRates = LearningRates()
    distance: Literal["rel_l2", "cosine"] = "rel_l2"
    gradient: Literal["independent", "same_render"] = Field(
        "independent",
        description="gradient estimator: residual and Jacobian from independent renders (unbiased at the target; "
        "two renders per step) or from the same render (biased: material metamers drift off the optimum)",
    )
    target_renders: Integer(ge=1, le=1024) = Field(
        8,
        description="noisy target renders (optimisation spp) averaged into the objective's target",
    )
    convergence_window: Integer(ge=0, le=100000) = Field(
        0, description="steps; stop when the window mean stops falling (0 = off)"
    )
    convergence_tol: Number(ge=0, le=1) = Field(1e-3, description="relative improvement required per window")
    stop_on_success: Flag = True
    success_fraction: Number(ge=0, le=1) = Field(
        0.25,
        description="stop once step similarity >= null max + fraction x (noise ceiling - null max)",
    )
    largesteps_lambda: Number(ge=0.1, le=1e4) = Field(19.0, description="LargeSteps smoothness")
    shape_basis: Literal["vertices", "harmonic"] = Field(
        "vertices",
        description="shape latents: vertex positions through LargeSteps, or a radial spherical-harmonic surface "
        "(radius, coefficients of degrees 1..shape_degree, translation: mrd.groups.shape_harmonic)",
    )
    shape_degree: Integer(ge=1, le=8) = Field(3, description="shape_basis harmonic: highest degree")
    remesh_every: Integer(ge=0, le=100000) = Field(0, description="shape: Botsch remeshing every N steps (0 = off)")
    remesh_edge_scale: Number(ge=0.05, le=20) = Field(1.0, description="remesh target edge length / current mean edge")
    remesh_at: list[Integer(ge=1, le=100000)] = Field(
        [], max_length=1000,
        description="shape: also remesh after these steps (the MRD reference: 5, 25, 50, 100, 150, 250, 350, 450)",
    )
    remesh_lr_factor: Number(gt=0, le=1) = Field(
        1.0, description="learning rate multiplied by this at each remesh (the MRD reference: 0.8)"
    )
    step_per_view: Flag = Field(
        False,
        description="one Adam update after every view's render (the MRD reference) instead of one update per step "
        "from the gradient accumulated over all views; a step's render cost is the same either way",
    )
    vary_material: list[Literal["base_color", "roughness", "metallic", "specular"]] = Field(
        list(MATERIAL_PARAMS),
        min_length=1,
        description="material parameters optimised; others keep target values",
    )
    vary_lighting: list[Literal["environment", "light"]] = Field(
        list(LIGHTING_PARAMS), min_length=1, description="lighting parts optimised; others keep target values"
    )
    lr_decay: Literal["none", "cosine", "halving"] = Field(
        "cosine",
        description="learning-rate schedule over `steps`: constant, cosine to lr_final_fraction, or halved at 50 % "
        "and 75 %",
    )
    lr_final_fraction: Number(ge=0, le=1) = Field(0.1, description="cosine: final rate / initial rate")
    iterate: Literal["last", "best", "average"] = Field(
        "best",
        description="the returned (and, in the experiment mode, checked) values: the last iterate, the one with "
        "the lowest 5-step mean loss, or the mean of the last `average_window` iterates (Polyak averaging)",
    )
    average_window: Integer(ge=2, le=100000) = Field(
        20, description="iterate = 'average': iterates averaged (restarted when a remesh changes the mesh)"
    )
    spp_final: Integer(ge=0, le=4096) = Field(
        0, description="optional spp ramp: samples per pixel grow linearly from `render.spp` to this (0 = off)"
    )
    start_jitter: Number(ge=0, le=0.5) = Field(
        0.05,
        description="shape: amplitude of a seed-dependent harmonic perturbation of an explicit start (e.g. the "
        "icosphere), so that seeds start from different meshes (0 = identical starts)",
    )
    mode: Literal["demo", "experiment"] = Field(
        "demo",
        description="demo: stop by the stop rule above; experiment: check the strict criterion every "
        "`criterion.check_every` steps on fresh display renders and stop when it holds (or at `steps`)",
    )
    restarts: Integer(ge=0, le=100) | dict[Text(64), Integer(ge=0, le=100)] = Field(
        0,
        description="a run whose result the strict criterion refuses (judged on fresh display renders when it "
        "ends) starts again from a new start draw, up to this many times (a number for every group, or a table "
        "per group, e.g. { material = 3 }); the record keeps the first attempt that passes, else the one closest "
        "to the target (lowest display distance ratio), and lists every attempt (docs/generate.md 'Restarts')",
    )
    store_progress: Integer(ge=0, le=100000) = Field(
        0, description="keep the varied group's values every N steps in the stored metamer (0 = off)"
    )
    sppi: Integer(ge=0, le=4096) = Field(
        0, description="shape: projective integrator's importance samples for guiding (0 = off; >0 costs ~100x)"
    )
    sppc: Integer(ge=0, le=4096) = Field(
        SHAPE_SPPC,
        description="shape: samples per pixel of the projective gradient's continuous (interior) term "
        "(0 = render.spp; docs/generate.md 'Shape gradients')",
    )
    sppp: Integer(ge=0, le=4096) = Field(
        SHAPE_SPPP,
        description="shape: samples per pixel of the projective gradient's silhouette term "
        "(0 = render.spp; docs/generate.md 'Shape gradients')",
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: object) -> object:
        if isinstance(data, dict) and "success_margin" in data:
            raise ValueError(
                f"success_margin = {data['success_margin']!r} was replaced by success_fraction: success is now "
                "a fraction of the way from the null maximum to the noise ceiling (the similarity of the target's "
                "own renders at the optimisation spp), e.g. success_fraction = 0.25"
            )
        return data

    @model_validator(mode="after")
    def _harmonic_keeps_its_mesh(self) -> OptimizeSettings:
        if self.shape_basis == "harmonic" and (self.remesh_every or self.remesh_at):
            raise ValueError(
                f"shape_basis = 'harmonic' keeps the start's mesh (its latents are harmonic coefficients), so "
                f"remeshing cannot apply: remesh_every = {self.remesh_every}, remesh_at = {self.remesh_at}; "
                "set remesh_every = 0 and remesh_at = [] or use shape_basis = 'vertices'"
            )
        return self


class Priors(StrictModel):
    """Priors over each group: metamer starts and null draws come from here."""

    shape: ShapePrior = ShapePrior()
    material: MaterialPrior = MaterialPrior()
    lighting: LightingPrior = LightingPrior()


class NullSettings(StrictModel):
    """The null reference: K scenes drawn from the prior over the varied group (display renders only)."""

    draws: Integer(ge=1, le=100000) = Field(
        100, description="K prior draws; the smallest reachable empirical p-value is 1 / (K + 1)"
    )


class CriterionSettings(StrictModel):
    """The success criterion: the generating model as an oddity observer, and the null reference."""

    triplets: Integer(ge=30, le=100000) = Field(
        300, description="oddity triplets of independent renders judged by the generating model"
    )
    oddity_pc_max: Number(ge=0.3334, le=0.45) = Field(
        0.45, description="success needs the model's oddity proportion correct <= this (chance = 1/3)"
    )
    null_alpha: Number(gt=0, le=0.5) = Field(
        0.05, description="success needs the null p-value (weakest over layers and metrics) <= this"
    )
    check_every: Integer(ge=0, le=100000) = Field(
        0, description="experiment mode: check the strict criterion every N steps (0 = only at the end)"
    )
    check_renders: Integer(ge=2, le=64) = Field(
        8,
        description="experiment mode: fresh display renders of the current metamer per check (measured on the "
        "demo: 8 stored 3/3 successes of 3 runs that met the criterion, 4 stored 2/3, in 0.7x the time)",
    )
    passes: Integer(ge=1, le=100) = Field(
        2,
        description="experiment mode: stop after this many consecutive passing checks (each confirmed on fresh "
        "renders); the first pass of a borderline metamer is often render noise",
    )


class SynthesisSettings(StrictModel):
    """Everything a metamer's synthesis needs besides its scene and model."""

    seed: Integer(ge=0, le=2**63 - 1) = Field(0, description="master seed (start draws, null draws, render seeds)")
    render: RenderSettings = RenderSettings()
    optimize: OptimizeSettings = OptimizeSettings()
    prior: Priors = Priors()
    null: NullSettings = NullSettings()
    criterion: CriterionSettings = CriterionSettings()
    groups: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="settings of registered parameter groups beyond the shipped three"
    )
