"""Parts of a stimulus-set config: scene specs, render and optimisation settings, priors.

These pydantic models are the field reference of the TOML config (each field's description says
what it does and what is allowed); :mod:`mrd.config` assembles them into a whole config.

Examples
--------
>>> RenderSettings(resolution=[96, 64]).size
(96, 64)
>>> MaterialSpec(roughness=2.0)
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for MaterialSpec
...
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Group = Literal["shape", "material", "lighting"]
GROUP_NAMES: tuple[str, ...] = ("shape", "material", "lighting")
Color = Annotated[list[Annotated[float, Field(ge=0.0)]], Field(min_length=3, max_length=3)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Range = Annotated[list[float], Field(min_length=2, max_length=2)]
MATERIAL_PARAMS = ("base_color", "roughness", "metallic", "specular")
LIGHTING_PARAMS = ("environment", "light")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_range(v: list[float], lo: float, hi: float | None = None) -> list[float]:
    if not (lo <= v[0] <= v[1] and (hi is None or v[1] <= hi)):
        allowed = f"[{lo}, {hi}]" if hi is not None else f"values >= {lo}"
        raise ValueError(f"must be [low, high] with low <= high inside {allowed}")
    return v


# -- scene parts ---------------------------------------------------------------------------------
class ShapeSpec(_Strict):
    """An object: a procedural mesh or a mesh file (.ply/.obj), centred and scaled to radius ``scale``."""

    kind: Literal["icosphere", "harmonic", "superquadric", "torus", "file"] = "harmonic"
    subdivisions: int = Field(3, ge=0, le=6, description="icosphere subdivision level of sphere-like meshes")
    scale: float = Field(1.0, gt=0, description="radius of the bounding sphere")
    coefficients: list[float] | None = Field(
        None,
        description="harmonic: real spherical-harmonic coefficients of degrees 1..degree ((degree+1)^2-1)",
    )
    degree: int = Field(3, ge=1, le=8, description="harmonic: highest degree")
    amplitude: float = Field(
        0.25, ge=0, le=1, description="harmonic: spread of coefficients drawn from `seed`"
    )
    seed: int = Field(
        0, ge=0, description="harmonic: seed of the coefficients when `coefficients` is not given"
    )
    exponent: float = Field(
        0.5, gt=0.05, le=4, description="superquadric: shape exponent (<1 boxy, 1 sphere, >1 pinched)"
    )
    axes: list[Annotated[float, Field(gt=0)]] = Field([1.0, 1.0, 1.0], min_length=3, max_length=3)
    minor_radius: float = Field(
        0.35, gt=0, lt=1, description="torus: tube radius relative to the major radius"
    )
    segments: int = Field(48, ge=8, le=512, description="torus: segments around the ring")
    path: str | None = Field(
        None, description="file: path of a .ply or .obj mesh (relative to the config file)"
    )

    @model_validator(mode="after")
    def _kind_fields(self) -> ShapeSpec:
        if self.kind == "file" and not self.path:
            raise ValueError("kind 'file' needs `path` (a .ply or .obj file)")
        if self.kind == "file" and Path(self.path).suffix.lower() not in (".ply", ".obj"):
            raise ValueError(f"path {self.path!r} must end in .ply or .obj")
        if self.coefficients is not None and len(self.coefficients) != (self.degree + 1) ** 2 - 1:
            raise ValueError(
                f"coefficients has {len(self.coefficients)} values; degree {self.degree} needs "
                f"{(self.degree + 1) ** 2 - 1} (degrees 1..{self.degree})"
            )
        return self


class TextureSpec(_Strict):
    """A base-colour texture: a procedural checkerboard or an image file."""

    kind: Literal["checker", "file"] = "checker"
    colors: list[Color] = Field([[0.8, 0.8, 0.8], [0.2, 0.2, 0.2]], min_length=2, max_length=2)
    checks: int = Field(8, ge=1, le=256)
    size: int = Field(64, ge=2, le=4096, description="texture resolution (square)")
    path: str | None = None

    @model_validator(mode="after")
    def _file(self) -> TextureSpec:
        if self.kind == "file" and not self.path:
            raise ValueError("kind 'file' needs `path` (an image file)")
        return self


class MaterialSpec(_Strict):
    """Principled BSDF parameters (values in [0, 1]); ``texture`` replaces ``base_color``."""

    base_color: list[Unit] = Field([0.7, 0.3, 0.2], min_length=3, max_length=3)
    roughness: Unit = 0.4
    metallic: Unit = 0.0
    specular: Unit = 0.5
    texture: TextureSpec | None = None


class LightingSpec(_Strict):
    """A procedural environment (constant or sky gradient) plus one point or area light."""

    environment: Literal["constant", "gradient"] = "gradient"
    radiance: Color = Field([0.5, 0.5, 0.5], description="constant environment radiance")
    sky: Color = Field([0.55, 0.65, 0.9], description="gradient: radiance above the horizon")
    ground: Color = Field([0.25, 0.22, 0.2], description="gradient: radiance below the horizon")
    light: Literal["point", "area", "none"] = "point"
    light_position: list[float] = Field([2.5, 3.5, 2.0], min_length=3, max_length=3)
    light_intensity: Color = Field([15.0, 15.0, 15.0], description="point: intensity; area: radiance")
    light_size: float = Field(1.0, gt=0, description="area: side length of the square light")


class SceneSpec(_Strict):
    """A target scene."""

    id: str
    shape: ShapeSpec = ShapeSpec()
    material: MaterialSpec = MaterialSpec()
    lighting: LightingSpec = LightingSpec()

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$", v):
            raise ValueError("use letters, digits, '_' and '-' (start with a letter or digit, at most 64)")
        return v


# -- settings ------------------------------------------------------------------------------------
class RenderSettings(_Strict):
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


class LearningRates(_Strict):
    """Adam learning rate per parameter group (latent units: logits, log radiance, LargeSteps)."""

    shape: float = Field(0.01, gt=0)
    material: float = Field(0.05, gt=0)
    lighting: float = Field(0.05, gt=0)


class OptimizeSettings(_Strict):
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


class MaterialPrior(_Strict):
    """Uniform ranges of each material parameter."""

    base_color: Range = [0.05, 0.95]
    roughness: Range = [0.1, 0.9]
    metallic: Range = [0.0, 0.0]
    specular: Range = [0.2, 0.8]

    @field_validator("base_color", "roughness", "metallic", "specular")
    @classmethod
    def _r(cls, v: list[float]) -> list[float]:
        return _check_range(v, 0.0, 1.0)


class ShapePrior(_Strict):
    """Random harmonic shapes: coefficients uniform in [-amplitude, amplitude] / degree."""

    degree: int = Field(3, ge=1, le=8)
    amplitude: float = Field(0.25, ge=0, le=1)
    subdivisions: int = Field(3, ge=0, le=6)
    scale: float = Field(1.0, gt=0)


class LightingPrior(_Strict):
    """Log-uniform ranges of radiance scale: each channel drawn independently."""

    environment: Range = [0.1, 1.0]
    light: Range = [3.0, 40.0]

    @field_validator("environment", "light")
    @classmethod
    def _r(cls, v: list[float]) -> list[float]:
        return _check_range(v, 1e-6)


class Priors(_Strict):
    """Priors over each group: metamer starts and null draws come from here."""

    shape: ShapePrior = ShapePrior()
    material: MaterialPrior = MaterialPrior()
    lighting: LightingPrior = LightingPrior()


class NullSettings(_Strict):
    """The null reference: K scenes drawn from the prior over the varied group."""

    draws: int = Field(4, ge=1, le=1000)
