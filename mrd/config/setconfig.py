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

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from mrd.config.scenes import LightingSpec, MaterialSpec, SceneSpec, ShapeSpec, TextureSpec
from mrd.config.settings import (
    CriterionSettings,
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
from mrd.specbase import Flag, Integer, StrictModel, Text
from stimuli.errors import MRDError
from stimuli.tomlcheck import format_errors, parse_toml, read_toml

__all__ = [
    "CriterionSettings",
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
    "format_validation_error",
    "load_config",
    "model_key",
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

    scenes: list[Text(128)] | Literal["*"] = "*"
    groups: list[Text(64)] = Field(["material"], min_length=1, description="registered parameter groups")
    models: list[Text(128)] | Literal["*"] = "*"
    seeds: list[Integer(ge=0, le=2**63 - 1)] = Field([0], min_length=1, max_length=100000)
    start: Literal["prior"] | StartSpec = "prior"
    per_layer: Flag = Field(
        False,
        description="one metamer per layer of each model (Feather et al. 2019): each optimises, and is judged by "
        "the criterion, on that layer alone; it shares its job's start; ids end in `.layer-NAME`",
    )

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
    layer: str | None = None

    @property
    def metamer_id(self) -> str:
        """Store key ``scene.group.model.sSEED`` (``....sSEED.layer-NAME`` for a per-layer metamer)."""
        base = f"{self.scene}.{self.group}.{self.model}.s{self.seed}"
        return base if self.layer is None else f"{base}.layer-{self.layer}"


class SceneSet(SynthesisSettings):
    """:class:`SynthesisSettings` plus the models and scenes: what a set config and a probe config share.

    Ids are unique, every ``[groups.NAME]`` table names a registered group with valid options, and
    paths resolve against the config file's folder.

    Examples
    --------
    >>> cfg = SceneSet(models=[ModelSpec(name="pkg.mod:f", layers=["x"])], scenes=[SceneSpec(id="ball")])
    >>> cfg.scene("ball").id, model_key(cfg.model("pkg.mod_f"))
    ('ball', 'pkg.mod_f')
    """

    title: Text(1000) = ""
    variant: Text(64) = Field(
        "auto", description="Mitsuba variant, or 'auto' (cuda_ad_rgb if usable, else llvm_ad_rgb)"
    )
    models: list[ModelSpec] = Field(min_length=1)
    scenes: list[SceneSpec] = Field(min_length=1)
    _base_dir: str = PrivateAttr(".")  # folder of the config file (set by the loader)

    @model_validator(mode="after")
    def _unique_and_known(self) -> SceneSet:
        for what, ids in (("scene", [s.id for s in self.scenes]), ("model", [model_key(m) for m in self.models])):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            if dup:
                raise ValueError(f"duplicate {what} ids {dup}; give each [[{what}s]] table a unique id")
        for name, opts in self.groups.items():
            if name not in group_names():
                raise ValueError(f"groups.{name}: no parameter group {name!r} is registered; known: {list(group_names())}")
            get_group(name).check_options(opts)
        return self

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


class SetConfig(SceneSet):
    """A whole stimulus-set config: :class:`SceneSet` plus the ``[[metamers]]`` jobs."""

    metamers: list[MetamerJobs] = Field(min_length=1)

    @model_validator(mode="after")
    def _refs(self) -> SetConfig:
        scene_ids = [s.id for s in self.scenes]
        model_ids = [model_key(m) for m in self.models]
        for i, block in enumerate(self.metamers):
            for kind, names, known in (
                ("scenes", block.scenes, scene_ids),
                ("models", block.models, model_ids),
            ):
                if names != "*":
                    bad = [n for n in names if n not in known]
                    if bad:
                        raise ValueError(f"metamers[{i}].{kind}: unknown {bad}; known: {known}")
        restarts = self.optimize.restarts
        if isinstance(restarts, dict):
            groups = sorted({g for block in self.metamers for g in block.groups})
            bad = sorted(set(restarts) - set(groups))
            if bad:
                raise ValueError(f"optimize.restarts: no metamers vary {bad}; the groups of this config: {groups}")
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
                        layers = self.model(m).layers if block.per_layer else [None]
                        for seed in block.seeds:
                            for layer in layers:
                                job = Job(s, g, m, seed, start, layer)
                                out.setdefault(job.metamer_id, job)
        return list(out.values())


def model_key(spec: ModelSpec) -> str:
    """Store id of a model spec (its ``id``, else derived from its name; see :class:`mrd.models.ModelSpec`).

    Examples
    --------
    >>> model_key(ModelSpec(name="pkg.mod:factory", layers=["x"]))
    'pkg.mod_factory'
    """
    return spec.model_id


def format_validation_error(exc: ValidationError, source: str) -> str:
    """Turn a pydantic error into lines ``FILE: field 'a.b[0]' = VALUE: what is allowed``
    (:func:`stimuli.tomlcheck.format_errors` on the whole config).

    Examples
    --------
    >>> try:
    ...     SetConfig(render={"spp": 0}, models=[], scenes=[], metamers=[])
    ... except ValidationError as e:
    ...     print(format_validation_error(e, "x.toml").splitlines()[1])
      field 'render.spp' = 0: out of range; give a number >= 1 and <= 4096
    """
    return format_errors(exc, source, SetConfig)


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
      field 'seed' = -1: out of range; give a number >= 0 and <= 9.22337e+18
      field 'models': required but missing
      field 'scenes': required but missing
      field 'metamers': required but missing
    """
    data = parse_toml(text.encode("utf-8", "surrogatepass"), source)
    try:
        cfg = SetConfig(**data)
    except ValidationError as exc:
        raise MRDError(format_validation_error(exc, source)) from None
    except RecursionError:
        raise MRDError(f"{source}: invalid config: nested too deeply") from None
    cfg._base_dir = str(base_dir)
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
    if not p.exists():
        raise MRDError(f"{p}: config file not found")
    _, raw = read_toml(p)
    text = raw.decode("utf-8")
    return parse_config(text, str(p), p.resolve().parent), text
