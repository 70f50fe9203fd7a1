"""The probe config: a stimulus-set config whose jobs are a strict ``[probe.eigen]`` / ``[probe.mad]`` table.

Everything a metamer config has but its ``[[metamers]]`` (render settings, ``[optimize]``'s
``vary_material`` / ``vary_lighting``, ``[[models]]``, ``[[scenes]]``) means the same here; the
probes are described by (shipped examples: ``stimuli/sets/probe_eigen.toml``, ``probe_mad.toml``):

``[probe.eigen]``
    ``scenes``, ``groups``, ``models`` (``"*"`` or ids), ``spp`` and ``seeds`` of the Fisher operator's
    renders, ``method`` (``auto`` | ``exact`` | ``lanczos``), ``exact_max``, ``lanczos_iterations``,
    ``directions`` (eigenpairs rendered at each end), ``steps`` (per side), ``[probe.eigen.step_size]``
    per group (physical units, :mod:`mrd.probes.steps`), ``fd_check`` (a boolean) and ``fd_h``.
``[probe.mad]``
    ``scenes``, ``groups``, ``pairs`` (``[[A, B], ...]`` model ids), ``swap`` and ``minimise``
    (booleans), ``start_size`` per group (the start's physical step), ``steps``, ``lr``, ``hold``,
    ``spp``, ``seeds``, ``distance``.

Examples
--------
>>> text = '''
... [[models]]
... name = "mrd.models.testing:mean_luminance"
... layers = ["luminance"]
... [[scenes]]
... id = "ball"
... [probe.eigen]
... groups = ["material"]
... '''
>>> cfg = parse_probe_config(text, "p.toml")
>>> cfg.probe.eigen.models, cfg.probe.eigen.step_size.material, cfg.probe.mad is None
('*', 0.05, True)
>>> parse_probe_config(text.replace('groups = ["material"]', 'fd_check = 1'), "p.toml")
Traceback (most recent call last):
...
stimuli.errors.MRDError: p.toml: invalid config
  field 'probe.eigen.fd_check' = 1: give true or false
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from mrd.config.setconfig import SceneSet, model_key
from mrd.groups.registry import group_names
from mrd.specbase import Flag, Integer, Number, StrictModel, Text
from stimuli.errors import MRDError
from stimuli.tomlcheck import format_errors, parse_toml, read_toml

Ids = Literal["*"] | list[Text(128)]


class GroupSizes(StrictModel):
    """A physical size per group (units: :data:`mrd.probes.steps.METRICS`)."""

    material: Number(gt=0, le=10) = 0.05
    shape: Number(gt=0, le=10) = 0.02
    lighting: Number(gt=0, le=10) = 0.3


class EigenSettings(StrictModel):
    """``[probe.eigen]``: physical eigendistortions."""

    scenes: Ids = "*"
    groups: list[Text(64)] = Field(["material"], min_length=1)
    models: Ids = "*"
    spp: Integer(ge=1, le=4096) = Field(64, description="samples per pixel of the Fisher operator's renders")
    seeds: Integer(ge=1, le=64) = Field(4, description="renders (seeds) the activations are averaged over")
    method: Literal["auto", "exact", "lanczos"] = "auto"
    exact_max: Integer(ge=1, le=4096) = Field(64, description="auto: exact up to this many latent coordinates")
    lanczos_iterations: Integer(ge=1, le=500) = 12
    directions: Integer(ge=1, le=16) = Field(1, description="eigenpairs rendered at each end of the spectrum")
    steps: Integer(ge=1, le=16) = Field(2, description="steps of equal physical size on each side")
    step_size: GroupSizes = GroupSizes()
    fd_check: Flag = Field(True, description="check each rendered eigenvalue by central finite differences")
    fd_h: Number(gt=0, le=1) = Field(0.01, description="finite-difference step (latent units)")


class MadSettings(StrictModel):
    """``[probe.mad]``: MAD competition in scene space."""

    scenes: Ids = "*"
    groups: list[Text(64)] = Field(["material"], min_length=1)
    pairs: list[list[Text(128)]] = Field(min_length=1, description="[[A, B], ...]: push A, hold B")
    swap: Flag = Field(True, description="also push B while holding A")
    minimise: Flag = Field(True, description="also minimise the pushed model's distance")
    start_size: GroupSizes = GroupSizes()
    steps: Integer(ge=1, le=1000) = 12
    lr: Number(gt=0, le=100) = Field(0.3, description="initial latent step length")
    hold: Number(gt=0, lt=1) = Field(0.05, description="relative tolerance on the held model's distance")
    spp: Integer(ge=1, le=4096) = 16
    seeds: Integer(ge=1, le=64) = 1
    distance: Literal["rel_l2", "cosine"] = "rel_l2"

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, v: list[list[str]]) -> list[list[str]]:
        for p in v:
            if len(p) != 2 or p[0] == p[1]:
                raise ValueError(f"each pair is [A, B] with two different model ids, got {p}")
        return v


class ProbeTable(StrictModel):
    """``[probe]``: at least one of ``eigen`` and ``mad``."""

    eigen: EigenSettings | None = None
    mad: MadSettings | None = None

    @model_validator(mode="after")
    def _some(self) -> ProbeTable:
        if self.eigen is None and self.mad is None:
            raise ValueError("give [probe.eigen] or [probe.mad]")
        return self


class ProbeConfig(SceneSet):
    """A probe config (module docstring): :class:`mrd.config.setconfig.SceneSet` plus ``[probe]``."""

    probe: ProbeTable

    @model_validator(mode="after")
    def _refs(self) -> ProbeConfig:
        scene_ids, model_ids = [s.id for s in self.scenes], [model_key(m) for m in self.models]
        for name, table in (("eigen", self.probe.eigen), ("mad", self.probe.mad)):
            if table is None:
                continue
            bad = [g for g in table.groups if g not in group_names()]
            if bad:
                raise ValueError(f"probe.{name}.groups: unknown {bad}; known: {list(group_names())}")
            if table.scenes != "*" and set(table.scenes) - set(scene_ids):
                raise ValueError(f"probe.{name}.scenes: unknown {sorted(set(table.scenes) - set(scene_ids))}; "
                                 f"known: {scene_ids}")  # fmt: skip
        e = self.probe.eigen
        if e is not None and e.models != "*" and set(e.models) - set(model_ids):
            raise ValueError(f"probe.eigen.models: unknown {sorted(set(e.models) - set(model_ids))}; known: {model_ids}")
        m = self.probe.mad
        if m is not None:
            bad = sorted({i for p in m.pairs for i in p} - set(model_ids))
            if bad:
                raise ValueError(f"probe.mad.pairs: unknown model ids {bad}; known: {model_ids}")
        return self

    def scene_ids(self, table: EigenSettings | MadSettings) -> list[str]:
        """The scenes a probe table names, in config order."""
        return [s.id for s in self.scenes] if table.scenes == "*" else list(table.scenes)

    def model_ids(self) -> list[str]:
        """The eigen table's models, in config order."""
        e = self.probe.eigen
        return [model_key(m) for m in self.models] if e is None or e.models == "*" else list(e.models)


def parse_probe_config(text: str, source: str = "<config>", base_dir: str | Path = ".") -> ProbeConfig:
    """Parse and validate probe-config text; errors name the file, field and value (:class:`MRDError`)."""
    data = parse_toml(text.encode("utf-8", "surrogatepass"), source)
    try:
        cfg = ProbeConfig(**data)
    except ValidationError as exc:
        raise MRDError(format_errors(exc, source, ProbeConfig)) from None
    except RecursionError:
        raise MRDError(f"{source}: invalid config: nested too deeply") from None
    cfg._base_dir = str(base_dir)
    return cfg


def load_probe_config(path: str | Path) -> tuple[ProbeConfig, str]:
    """Read and validate a probe config file; return it with its exact text.

    Examples
    --------
    >>> cfg, _ = load_probe_config(Path(__file__).parents[2] / "stimuli" / "sets" / "probe_eigen.toml")
    >>> cfg.probe.eigen is not None
    True
    """
    p = Path(path)
    _, raw = read_toml(p)
    text = raw.decode("utf-8")
    return parse_probe_config(text, str(p), p.resolve().parent), text
