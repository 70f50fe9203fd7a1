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

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from mrd.config.scenes import LightingSpec, MaterialSpec, SceneSpec, ShapeSpec, TextureSpec
from mrd.config.settings import (
    LearningRates,
    NullSettings,
    OptimizeSettings,
    Priors,
    RenderSettings,
    SynthesisSettings,
)
from mrd.groups.lighting import LIGHTING_PARAMS, LightingPrior
from mrd.groups.material import MATERIAL_PARAMS, MaterialPrior
from mrd.groups.registry import get_group, group_names
from mrd.groups.shape import ShapePrior
from mrd.models.spec import ModelSpec
from mrd.specbase import StrictModel
from stimuli.errors import MRDError

__all__ = [
    "LIGHTING_PARAMS",
    "MATERIAL_PARAMS",
    "Job",
    "LearningRates",
    "LightingPrior",
    "LightingSpec",
    "MaterialPrior",
    "MaterialSpec",
    "MetamerJobs",
    "NullSettings",
    "OptimizeSettings",
    "Priors",
    "RenderSettings",
    "SceneSpec",
    "SetConfig",
    "ShapePrior",
    "ShapeSpec",
    "StartSpec",
    "SynthesisSettings",
    "TextureSpec",
    "load_config",
    "parse_config",
]


class StartSpec(StrictModel):
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
                raise ValueError(
                    f"unknown keys {sorted(bad)}; allowed: radiance, sky, ground, light_intensity"
                )
            LightingSpec(**v)
        return v


class MetamerJobs(StrictModel):
    """A block of metamer jobs: the cross product scenes x groups x models x seeds."""

    scenes: list[str] | Literal["*"] = "*"
    groups: list[str] = Field(["material"], min_length=1, description="registered parameter groups")
    models: list[str] | Literal["*"] = "*"
    seeds: list[Annotated[int, Field(ge=0, le=2**63 - 1)]] = Field([0], min_length=1)
    start: Literal["prior"] | StartSpec = "prior"

    @field_validator("groups")
    @classmethod
    def _groups(cls, v: list[str]) -> list[str]:
        known = group_names()
        bad = [g for g in v if g not in known]
        if bad:
            raise ValueError(f"unknown parameter groups {bad}; registered: {list(known)}")
        return v


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


class SetConfig(SynthesisSettings):
    """A whole stimulus-set config: :class:`SynthesisSettings` plus models, scenes and jobs."""

    title: str = Field("", max_length=1000)
    variant: str = Field(
        "auto", max_length=64, description="Mitsuba variant, or 'auto' (cuda_ad_rgb if usable, else llvm_ad_rgb)"
    )
    models: list[ModelSpec] = Field(min_length=1)
    scenes: list[SceneSpec] = Field(min_length=1)
    metamers: list[MetamerJobs] = Field(min_length=1)
    _base_dir: str = PrivateAttr(".")  # folder of the config file (set by the loader)

    @model_validator(mode="after")
    def _refs(self) -> SetConfig:
        scene_ids = [s.id for s in self.scenes]
        model_ids = [model_key(m) for m in self.models]
        for what, ids in (("scene", scene_ids), ("model", model_ids)):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            if dup:
                raise ValueError(f"duplicate {what} ids {dup}; give each [[{what}s]] table a unique id")
        for i, block in enumerate(self.metamers):
            for kind, names, known in (
                ("scenes", block.scenes, scene_ids),
                ("models", block.models, model_ids),
            ):
                if names != "*":
                    bad = [n for n in names if n not in known]
                    if bad:
                        raise ValueError(f"metamers[{i}].{kind}: unknown {bad}; known: {known}")
        for name, opts in self.groups.items():
            if name not in group_names():
                raise ValueError(f"groups.{name}: no parameter group {name!r} is registered; known: {list(group_names())}")
            get_group(name).check_options(opts)
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
        return p if p.is_absolute() else Path(self._base_dir) / p


def model_key(spec: ModelSpec) -> str:
    """Store id of a model spec (its ``id``, else derived from its name; see :class:`mrd.models.ModelSpec`).

    Examples
    --------
    >>> model_key(ModelSpec(name="pkg.mod:factory", layers=["x"]))
    'pkg.mod_factory'
    """
    return spec.model_id


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.match(r"^[A-Z][A-Za-z]+$", str(part)):  # a union member's class name
            continue
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
    errors = exc.errors()
    wheres = [_where(e["loc"]) for e in errors]
    for err, where in zip(errors, wheres, strict=True):
        if err["type"] == "literal_error" and any(w.startswith(where + ".") for w in wheres):
            continue  # a union's other branch failed deeper down: report that one
        value = err.get("input")
        shown = repr(value) if not isinstance(value, dict) else "{...}"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see the config reference in mrd/config.py)"
        if err["type"] == "missing":
            lines.append(f"  field '{where}': required but missing")
        else:
            lines.append(f"  field '{where}' = {shown}: {msg}")
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
        cfg = SetConfig(**data)
    except ValidationError as exc:
        raise MRDError(format_validation_error(exc, source)) from None
    cfg._base_dir = str(base_dir)
    if not math.isfinite(cfg.render.exposure):
        raise MRDError(f"{source}: field 'render.exposure' = {cfg.render.exposure}: must be finite")
    return cfg


def load_config(path: str | Path) -> tuple[SetConfig, str]:
    """Read and validate a config file; return it with its exact text (stored in the set).

    Examples
    --------
    >>> cfg, text = load_config(Path(__file__).parents[2] / "stimuli" / "sets" / "demo.toml")
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
