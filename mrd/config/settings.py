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
from mrd.specbase import StrictModel

class RenderSettings(StrictModel):
    """Resolution, samples, cameras and tone mapping."""

    resolution: int | list[int] = Field(64, description="pixels: N for N x N, or [width, height]")
    spp: int = Field(8, ge=1, le=4096, description="samples per pixel during optimisation")
    display_spp: int = Field(256, ge=1, le=65536, description="samples per pixel of stored renders")
    views: int = Field(4, ge=1, le=64)
    layout: Literal["ring", "fibonacci"] = "ring"
    distance: float = Field(3.5, gt=0, description="camera distance from the object centre")
    fov: float = Field(35.0, gt=1, lt=170, description="horizontal field of view, degrees")
    elevation: float = Field(20.0, ge=-89, le=89, description="ring: camera elevation, degrees")
    max_depth: int = Field(3, ge=2, le=16, description="path depth for material/lighting and display renders")
    exposure: float = Field(0.0, ge=-16, le=16, description="tone map exposure, stops")
    env_resolution: int = Field(32, ge=4, le=1024, description="gradient environment map height")

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

    shape: float = Field(0.01, gt=0)
    material: float = Field(0.05, gt=0)
    lighting: float = Field(0.05, gt=0)


class OptimizeSettings(StrictModel):
    """Optimisation: steps, learning rates, objective, stopping and shape regularisation."""

    steps: int = Field(100, ge=1, le=100000)
    lr: LearningRates = LearningRates()
    distance: Literal["rel_l2", "cosine"] = "rel_l2"
    target_renders: int = Field(
        8,
        ge=1,
        le=1024,
        description="noisy target renders (optimisation spp) averaged into the objective's target",
    )
    convergence_window: int = Field(
        0, ge=0, description="steps; stop when the window mean stops falling (0 = off)"
    )
    convergence_tol: float = Field(1e-3, ge=0, description="relative improvement required per window")
    stop_on_success: bool = True
    success_fraction: float = Field(
        0.25,
        ge=0,
        le=1,
        description="stop once step similarity >= null max + fraction x (noise ceiling - null max)",
    )
    largesteps_lambda: float = Field(19.0, gt=0)
    remesh_every: int = Field(0, ge=0, description="shape: Botsch remeshing every N steps (0 = off)")
    remesh_edge_scale: float = Field(1.0, gt=0, description="remesh target edge length / current mean edge")
    vary_material: list[Literal["base_color", "roughness", "metallic", "specular"]] = Field(
        list(MATERIAL_PARAMS),
        min_length=1,
        description="material parameters optimised; others keep target values",
    )
    vary_lighting: list[Literal["environment", "light"]] = Field(
        list(LIGHTING_PARAMS), min_length=1, description="lighting parts optimised; others keep target values"
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


class Priors(StrictModel):
    """Priors over each group: metamer starts and null draws come from here."""

    shape: ShapePrior = ShapePrior()
    material: MaterialPrior = MaterialPrior()
    lighting: LightingPrior = LightingPrior()


class NullSettings(StrictModel):
    """The null reference: K scenes drawn from the prior over the varied group."""

    draws: int = Field(4, ge=1, le=1000)


class SynthesisSettings(StrictModel):
    """Everything a metamer's synthesis needs besides its scene and model."""

    seed: int = Field(0, ge=0, le=2**63 - 1, description="master seed (start draws, null draws, render seeds)")
    render: RenderSettings = RenderSettings()
    optimize: OptimizeSettings = OptimizeSettings()
    prior: Priors = Priors()
    null: NullSettings = NullSettings()
    groups: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="settings of registered parameter groups beyond the shipped three"
    )
