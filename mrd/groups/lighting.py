"""The ``lighting`` group: environment radiance (constant, or sky and ground of a gradient) and the light.

* values: ``radiance`` (3,) [constant environment] or ``sky``, ``ground`` (3,) [gradient], and
  ``light_intensity`` (3,) [point: intensity; area: radiance; absent for light 'none'];
* prior: each radiance channel log-uniform in the ``[prior.lighting]`` range of its part
  (``environment`` or ``light``); unvaried parts keep the target's;
* parametrisation: ``v = exp(z)`` (positive; steps are relative);
* distances: ``|log a - log b|`` (norm over channels) per value.

Examples
--------
>>> d = lighting_distance({"light_intensity": np.array([10.0] * 3)}, {"light_intensity": np.array([20.0] * 3)})
>>> round(d["light_intensity_log"], 3)
1.201
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from mrd.groups.base import GroupParam, ParameterGroup, Params, Values, as_numpy, copy_values, override_values
from mrd.render.renderer import to_drjit
from mrd.render.scene import ENV, LIGHT
from mrd.specbase import Color, Number, Range, StrictModel, check_range

LIGHTING_PARAMS = ("environment", "light")
"""Parts of the lighting that can be varied."""
MIN_RADIANCE = 1e-4
_PART = {"radiance": "environment", "sky": "environment", "ground": "environment", "light_intensity": "light"}


class LightingSpec(StrictModel):
    """A procedural environment (constant or sky gradient) plus one point or area light."""

    environment: Literal["constant", "gradient"] = "gradient"
    radiance: Color = Field([0.5, 0.5, 0.5], description="constant environment radiance")
    sky: Color = Field([0.55, 0.65, 0.9], description="gradient: radiance above the horizon")
    ground: Color = Field([0.25, 0.22, 0.2], description="gradient: radiance below the horizon")
    light: Literal["point", "area", "none"] = "point"
    light_position: list[Number(ge=-1e3, le=1e3)] = Field([2.5, 3.5, 2.0], min_length=3, max_length=3)
    light_intensity: Color = Field([15.0, 15.0, 15.0], description="point: intensity; area: radiance")
    light_size: Number(gt=0, le=1e3) = Field(1.0, description="area: side length of the square light")


class LightingPrior(StrictModel):
    """Log-uniform ranges of radiance scale: each channel drawn independently."""

    environment: Range = [0.1, 1.0]
    light: Range = [3.0, 40.0]

    @field_validator("environment", "light")
    @classmethod
    def _r(cls, v: list[float]) -> list[float]:
        return check_range(v, 1e-6)


def lighting_values(spec: LightingSpec) -> Values:
    """Lighting-group values of a lighting spec."""
    out: Values = {}
    if spec.environment == "constant":
        out["radiance"] = np.asarray(spec.radiance, np.float32)
    else:
        out["sky"] = np.asarray(spec.sky, np.float32)
        out["ground"] = np.asarray(spec.ground, np.float32)
    if spec.light != "none":
        out["light_intensity"] = np.asarray(spec.light_intensity, np.float32)
    return out


def lighting_distance(target: Mapping[str, np.ndarray], metamer: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Log-radiance distance of each lighting value (see the module docstring)."""
    out = {}
    for k in target:
        a = np.log(np.maximum(np.asarray(target[k], np.float64), 1e-6))
        b = np.log(np.maximum(np.asarray(metamer[k], np.float64), 1e-6))
        out[f"{k}_log"] = float(np.linalg.norm(a - b))
    return out


def lighting_key(layout: Any, name: str) -> str:
    """Mitsuba parameter key of a lighting value (``sky``/``ground`` both map to the environment data).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> lighting_key(SimpleNamespace(light="point"), "light_intensity")
    'light.intensity.value'
    """
    if name in ("sky", "ground"):
        return f"{ENV}.data"
    if name == "radiance":
        return f"{ENV}.radiance.value"
    return f"{LIGHT}.intensity.value" if layout.light == "point" else f"{LIGHT}.emitter.radiance.value"


class LightingParam(GroupParam):
    """Environment and light radiances through ``exp``.

    Parameters
    ----------
    start : dict
        Start values: ``radiance`` or ``sky``/``ground``, and ``light_intensity`` (if there is a light).
    vary : sequence of {"environment", "light"}, optional
        Parts optimised (default both); the others keep their start values.
    """

    name = "lighting"

    def __init__(self, start: Mapping[str, np.ndarray], vary: tuple[str, ...] | list[str] | None = None) -> None:
        self.start = {k: np.asarray(v, np.float32) for k, v in start.items()}
        self.vary = [k for k in self.start if vary is None or _PART[k] in vary]

    def init(self) -> dict[str, Any]:
        return {k: to_drjit(np.log(np.maximum(self.start[k], MIN_RADIANCE))) for k in self.vary}

    def apply(self, latents: Mapping[str, Any], renderer: Any) -> None:
        import drjit as dr

        phys = {k: dr.exp(latents[k]) for k in self.vary}
        for k, v in phys.items():
            if k not in ("sky", "ground"):
                renderer.write(lighting_key(renderer.layout, k), v)
        if "sky" in phys or "ground" in phys:
            sky = phys.get("sky", to_drjit(self.start["sky"]))
            ground = phys.get("ground", to_drjit(self.start["ground"]))
            renderer.write(lighting_key(renderer.layout, "sky"), renderer.env_data(sky, ground))

    def values(self, latents: Mapping[str, Any]) -> Values:
        import drjit as dr

        out = {k: v.copy() for k, v in self.start.items()}
        for k in self.vary:
            out[k] = as_numpy(dr.exp(latents[k]), self.start[k])
        return out


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n)).astype(np.float32)


class Lighting(ParameterGroup):
    """The lighting group (see the module docstring)."""

    name = "lighting"

    def target_values(self, scene: Any, resolve: Callable[[str], Path] = Path) -> Values:
        return lighting_values(scene.lighting)

    def draw(self, cfg: Any, target: Values, rng: np.random.Generator) -> Values:
        tv, pl, vary = copy_values(target), cfg.prior.lighting, cfg.optimize.vary_lighting
        for name in sorted(tv):
            part = _PART[name]
            if part in vary:
                lo, hi = getattr(pl, part)
                tv[name] = _log_uniform(rng, lo, hi, 3)
        return tv

    def explicit_start(self, explicit: Any, drawn: Values, resolve: Callable[[str], Path] = Path, **_: Any) -> Values:
        return override_values(explicit, drawn)

    def parametrise(self, start: Values, cfg: Any, target: Params) -> GroupParam:
        return LightingParam(start, cfg.optimize.vary_lighting)

    def write(self, renderer: Any, values: Mapping[str, np.ndarray]) -> None:
        for name, v in values.items():
            if name not in ("sky", "ground"):
                renderer.write(lighting_key(renderer.layout, name), to_drjit(v))
        if "sky" in values:
            env = renderer.env_data(to_drjit(values["sky"]), to_drjit(values["ground"]))
            renderer.write(lighting_key(renderer.layout, "sky"), env)

    def distance(self, target: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]) -> dict[str, float]:
        return lighting_distance(target, other)
