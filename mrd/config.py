"""The stimulus-set config: a TOML file validated into typed settings.

A config names the target scenes, the vision models, and the metamer jobs (scene x group x
model x seed), plus render, optimisation, prior and null-reference settings. Every error names
the file, the field, the offending value and what would be valid (:class:`stimuli.errors.MRDError`).

The shipped examples are ``stimuli/sets/demo.toml`` and ``stimuli/sets/pilot.toml``; the
field reference is the set of pydantic models below (each field's description).

Examples
--------
>>> text = '''
... [[models]]
... name = "mobilenetv2_100"
... layers = ["blocks.2"]
... [[scenes]]
... id = "ball"
... [[metamers]]
... groups = ["material"]
... '''
>>> cfg = parse_config(text, "inline.toml")
>>> [job.metamer_id for job in cfg.jobs()]
['ball.material.mobilenetv2_100.s0']
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mrd.models import ModelSpec
from stimuli.errors import MRDError

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
        None, description="harmonic: real spherical-harmonic coefficients for degrees 1..degree, (degree+1)^2-1 values"
    )
    degree: int = Field(3, ge=1, le=8, description="harmonic: highest degree")
    amplitude: float = Field(0.25, ge=0, le=1, description="harmonic: spread of coefficients drawn from `seed`")
    seed: int = Field(0, ge=0, description="harmonic: seed of the coefficients when `coefficients` is not given")
    exponent: float = Field(0.5, gt=0.05, le=4, description="superquadric: shape exponent (<1 boxy, 1 sphere, >1 pinched)")
    axes: list[Annotated[float, Field(gt=0)]] = Field([1.0, 1.0, 1.0], min_length=3, max_length=3)
    minor_radius: float = Field(0.35, gt=0, lt=1, description="torus: tube radius relative to the major radius")
    segments: int = Field(48, ge=8, le=512, description="torus: segments around the ring")
    path: str | None = Field(None, description="file: path of a .ply or .obj mesh (relative to the config file)")

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
    convergence_window: int = Field(0, ge=0, description="steps; stop when the window mean stops falling (0 = off)")
    convergence_tol: float = Field(1e-3, ge=0, description="relative improvement required per window")
    stop_on_success: bool = True
    success_margin: float = Field(0.01, ge=0, description="stop once step similarity >= null max + margin")
    largesteps_lambda: float = Field(19.0, gt=0)
    remesh_every: int = Field(0, ge=0, description="shape: Botsch remeshing every N steps (0 = off)")
    remesh_edge_scale: float = Field(1.0, gt=0, description="remesh target edge length / current mean edge")
    vary_material: list[Literal["base_color", "roughness", "metallic", "specular"]] = Field(
        list(MATERIAL_PARAMS), min_length=1, description="material parameters optimised; others keep target values"
    )
    vary_lighting: list[Literal["environment", "light"]] = Field(
        list(LIGHTING_PARAMS), min_length=1, description="lighting parts optimised; others keep target values"
    )


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


class StartSpec(_Strict):
    """Explicit metamer starts per group (unspecified groups start from a prior draw)."""

    shape: ShapeSpec | None = None
    material: dict[str, Any] | None = Field(None, description="partial MaterialSpec; missing fields drawn")
    lighting: dict[str, Any] | None = Field(None, description="partial LightingSpec radiances; missing drawn")

    @field_validator("material")
    @classmethod
    def _mat(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            MaterialSpec(**v)
        return v

    @field_validator("lighting")
    @classmethod
    def _light(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            bad = set(v) - {"radiance", "sky", "ground", "light_intensity"}
            if bad:
                raise ValueError(f"unknown keys {sorted(bad)}; allowed: radiance, sky, ground, light_intensity")
            LightingSpec(**v)
        return v


class MetamerJobs(_Strict):
    """A block of metamer jobs: the cross product scenes x groups x models x seeds."""

    scenes: list[str] | Literal["*"] = "*"
    groups: list[Group] = Field(["material"], min_length=1)
    models: list[str] | Literal["*"] = "*"
    seeds: list[Annotated[int, Field(ge=0)]] = Field([0], min_length=1)
    start: Literal["prior"] | StartSpec = "prior"


@dataclass(frozen=True)
class Job:
    """One metamer to make."""

    scene: str
    group: str
    model: str
    seed: int
    start: StartSpec | None

    @property
    def metamer_id(self) -> str:
        """Store key ``scene.group.model.sSEED``."""
        return f"{self.scene}.{self.group}.{self.model}.s{self.seed}"


class SetConfig(_Strict):
    """A whole stimulus-set config."""

    title: str = ""
    seed: int = Field(0, ge=0, description="master seed (start draws, null draws, render seeds)")
    variant: str = Field("auto", description="Mitsuba variant, or 'auto' (cuda_ad_rgb if usable, else llvm_ad_rgb)")
    render: RenderSettings = RenderSettings()
    optimize: OptimizeSettings = OptimizeSettings()
    prior: Priors = Priors()
    null: NullSettings = NullSettings()
    models: list[ModelSpec] = Field(min_length=1)
    scenes: list[SceneSpec] = Field(min_length=1)
    metamers: list[MetamerJobs] = Field(min_length=1)
    base_dir: str = Field("", exclude=True, description="folder of the config file (set by the loader)")

    @model_validator(mode="after")
    def _refs(self) -> SetConfig:
        scene_ids = [s.id for s in self.scenes]
        model_ids = [model_key(m) for m in self.models]
        for what, ids in (("scene", scene_ids), ("model", model_ids)):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            if dup:
                raise ValueError(f"duplicate {what} ids {dup}; give each [[{what}s]] table a unique id")
        for i, block in enumerate(self.metamers):
            for kind, names, known in (("scenes", block.scenes, scene_ids), ("models", block.models, model_ids)):
                if names != "*":
                    bad = [n for n in names if n not in known]
                    if bad:
                        raise ValueError(f"metamers[{i}].{kind}: unknown {bad}; known: {known}")
        return self

    def jobs(self) -> list[Job]:
        """All metamer jobs, in config order, without duplicates.

        Examples
        --------
        >>> isinstance(SetConfig.jobs, object)
        True
        """
        out: dict[str, Job] = {}
        for block in self.metamers:
            scenes = [s.id for s in self.scenes] if block.scenes == "*" else block.scenes
            models = [model_key(m) for m in self.models] if block.models == "*" else block.models
            start = None if block.start == "prior" else block.start
            for s in scenes:
                for g in block.groups:
                    for m in models:
                        for seed in block.seeds:
                            job = Job(s, g, m, seed, start)
                            out.setdefault(job.metamer_id, job)
        return list(out.values())

    def scene(self, scene_id: str) -> SceneSpec:
        """The scene spec with this id."""
        return next(s for s in self.scenes if s.id == scene_id)

    def model(self, model_id: str) -> ModelSpec:
        """The model spec with this id."""
        return next(m for m in self.models if model_key(m) == model_id)

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else Path(self.base_dir or ".") / p


def model_key(spec: ModelSpec) -> str:
    """Store id of a model spec: its ``id``, else its name with ``/ :`` and spaces made ``_``.

    Examples
    --------
    >>> model_key(ModelSpec(name="pkg.mod:factory", layers=["x"]))
    'pkg.mod_factory'
    """
    if spec.id:
        return spec.id
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", spec.name)


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not re.match(r"^(function-after|function-wrap|literal|list|union|int|str)\[", str(part)):
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def format_validation_error(exc: ValidationError, source: str) -> str:
    """Turn a pydantic error into lines ``FILE: field 'a.b[0]' = VALUE: what is allowed``.

    Examples
    --------
    >>> try:
    ...     RenderSettings(spp=0)
    ... except ValidationError as e:
    ...     print(format_validation_error(e, "x.toml"))
    x.toml: invalid config
      field 'spp' = 0: Input should be greater than or equal to 1
    """
    lines = [f"{source}: invalid config"]
    for err in exc.errors():
        value = err.get("input")
        shown = repr(value) if not isinstance(value, dict) else "{...}"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see the config reference in mrd/config.py)"
        if err["type"] == "missing":
            lines.append(f"  field '{_where(err['loc'])}': required but missing")
        else:
            lines.append(f"  field '{_where(err['loc'])}' = {shown}: {msg}")
    return "\n".join(lines)


def parse_config(text: str, source: str = "<config>", base_dir: str | Path = ".") -> SetConfig:
    """Parse and validate config text.

    Parameters
    ----------
    text : str
        TOML text.
    source : str
        File name used in error messages.
    base_dir : path-like
        Folder that relative paths in the config are resolved against.

    Returns
    -------
    SetConfig

    Raises
    ------
    stimuli.errors.MRDError
        On TOML syntax errors or invalid values.

    Examples
    --------
    >>> parse_config("seed = -1", "bad.toml")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: bad.toml: invalid config
      field 'seed' = -1: Input should be greater than or equal to 0
      field 'models': required but missing
      field 'scenes': required but missing
      field 'metamers': required but missing
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MRDError(f"{source}: not valid TOML: {exc}") from None
    try:
        cfg = SetConfig(**data, base_dir=str(base_dir))
    except ValidationError as exc:
        raise MRDError(format_validation_error(exc, source)) from None
    if not math.isfinite(cfg.render.exposure):
        raise MRDError(f"{source}: field 'render.exposure' = {cfg.render.exposure}: must be finite")
    return cfg


def load_config(path: str | Path) -> tuple[SetConfig, str]:
    """Read and validate a config file; return it with its exact text (stored in the set).

    Examples
    --------
    >>> cfg, text = load_config(Path(__file__).parents[1] / "stimuli" / "sets" / "demo.toml")
    >>> cfg.render.views >= 1
    True
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MRDError(f"{p}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MRDError(f"{p}: cannot read config ({exc})") from None
    return parse_config(text, str(p), p.resolve().parent), text
