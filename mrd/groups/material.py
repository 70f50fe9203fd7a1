"""The ``material`` group: principled-BSDF base colour (or texture), roughness, metallic, specular.

* values: ``base_color`` (3,) or a texture (H, W, 3) (linear), ``roughness``, ``metallic``,
  ``specular`` (0-d), all in their :data:`RANGES`;
* prior: each varied value uniform in its ``[prior.material]`` range (colour channels
  independently; a texture gets one uniform colour); unvaried values keep the target's;
* parametrisation: ``v = lo + (hi - lo) * sigmoid(z)`` (hard clipping stalls optimisation);
* distances: absolute differences of roughness, metallic, specular; RGB distance and CIE76
  Delta E of the (mean) base colour; texture RMSE.

Examples
--------
>>> import numpy as np
>>> from mrd.render.variant import use_variant
>>> _ = use_variant("llvm_ad_rgb")
>>> g = MaterialParam({"base_color": np.array([0.2, 0.5, 0.9], np.float32), "roughness": np.float32(0.3),
...                    "metallic": np.float32(0.0), "specular": np.float32(0.5)})
>>> g.values(g.init())["base_color"].astype(float).round(4).tolist()
[0.2, 0.5, 0.9]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from mrd.groups.base import (
    GroupParam,
    ParameterGroup,
    Params,
    Values,
    as_numpy,
    copy_values,
    logit,
    override_values,
)
from mrd.render.color import delta_e, srgb_to_linear
from mrd.render.renderer import to_drjit
from mrd.render.scene import OBJECT
from mrd.specbase import Integer, Range, StrictModel, Text, Unit, check_range
from stimuli.errors import MRDError

MATERIAL_PARAMS = ("base_color", "roughness", "metallic", "specular")
"""Names of the material values."""

RANGES: dict[str, tuple[float, float]] = {
    "base_color": (0.0, 1.0),
    "roughness": (0.01, 1.0),
    "metallic": (0.0, 1.0),
    "specular": (0.0, 1.0),
}
"""Valid range of each material value (the logistic maps onto it)."""


# -- config specs --------------------------------------------------------------------------------
class TextureSpec(StrictModel):
    """A base-colour texture: a procedural checkerboard or an image file."""

    kind: Literal["checker", "file"] = "checker"
    colors: list[Annotated[list[Unit], Field(min_length=3, max_length=3)]] = Field([[0.8, 0.8, 0.8], [0.2, 0.2, 0.2]], min_length=2, max_length=2)
    checks: Integer(ge=1, le=256) = 8
    size: Integer(ge=2, le=4096) = Field(64, description="texture resolution (square)")
    path: Text(4096) | None = None

    @model_validator(mode="after")
    def _file(self) -> TextureSpec:
        if self.kind == "file" and not self.path:
            raise ValueError("kind 'file' needs `path` (an image file)")
        return self


class MaterialSpec(StrictModel):
    """Principled BSDF parameters (values in [0, 1]); ``texture`` replaces ``base_color``."""

    base_color: list[Unit] = Field([0.7, 0.3, 0.2], min_length=3, max_length=3)
    roughness: Unit = 0.4
    metallic: Unit = 0.0
    specular: Unit = 0.5
    texture: TextureSpec | None = None


class MaterialPrior(StrictModel):
    """Uniform ranges of each material parameter."""

    base_color: Range = [0.05, 0.95]
    roughness: Range = [0.1, 0.9]
    metallic: Range = [0.0, 0.0]
    specular: Range = [0.2, 0.8]

    @field_validator("base_color", "roughness", "metallic", "specular")
    @classmethod
    def _r(cls, v: list[float]) -> list[float]:
        return check_range(v, 0.0, 1.0)


# -- values --------------------------------------------------------------------------------------
def texture_values(spec: TextureSpec, resolve: Callable[[str], Path] = Path) -> np.ndarray:
    """``(H, W, 3)`` float32 linear base-colour texture.

    Examples
    --------
    >>> texture_values(TextureSpec(size=8, checks=2))[:, :, 0][::4, ::4]
    array([[0.8, 0.2],
           [0.2, 0.8]], dtype=float32)
    """
    if spec.kind == "checker":
        idx = (np.arange(spec.size) * spec.checks // spec.size) % 2
        mask = (idx[:, None] + idx[None, :]) % 2
        colors = np.asarray(spec.colors, dtype=np.float32)
        return colors[mask].astype(np.float32)
    from PIL import Image

    path = resolve(spec.path or "")
    try:
        img = Image.open(path).convert("RGB")
    except (OSError, ValueError) as exc:
        raise MRDError(f"{path}: cannot read texture image ({exc})") from None
    return np.clip(srgb_to_linear(np.asarray(img, dtype=np.float64) / 255.0), 0, 1).astype(np.float32)


def material_values(spec: MaterialSpec, resolve: Callable[[str], Path] = Path) -> Values:
    """Material-group values of a material spec."""
    base = texture_values(spec.texture, resolve) if spec.texture else np.asarray(spec.base_color, np.float32)
    return {
        "base_color": base,
        "roughness": np.float32(spec.roughness),
        "metallic": np.float32(spec.metallic),
        "specular": np.float32(spec.specular),
    }


def material_distance(target: Mapping[str, np.ndarray], metamer: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Per-value distances of two material value sets.

    Examples
    --------
    >>> t = {"base_color": np.array([0.8, 0.2, 0.2]), "roughness": 0.5, "metallic": 0.0, "specular": 0.5}
    >>> d = material_distance(t, dict(t, roughness=0.2))
    >>> round(d["roughness"], 3), d["base_color_delta_e"]
    (0.3, 0.0)
    """
    out: dict[str, float] = {}
    for k in ("roughness", "metallic", "specular"):
        out[k] = float(abs(float(np.asarray(target[k])) - float(np.asarray(metamer[k]))))
    ta, mb = np.asarray(target["base_color"], np.float64), np.asarray(metamer["base_color"], np.float64)
    ca, cb = ta.reshape(-1, 3).mean(axis=0), mb.reshape(-1, 3).mean(axis=0)
    out["base_color_rgb"] = float(np.linalg.norm(ca - cb))
    out["base_color_delta_e"] = delta_e(ca, cb)
    if ta.ndim == 3:
        out["texture_rmse"] = float(np.sqrt(np.mean((ta - mb) ** 2)))
    return out


# -- parametrisation -----------------------------------------------------------------------------
class MaterialParam(GroupParam):
    """Principled-BSDF values through a scaled logistic.

    Parameters
    ----------
    start : dict
        Start values (``base_color`` (3,) or texture (H, W, 3), ``roughness``, ``metallic``, ``specular``).
    vary : sequence of str, optional
        Names optimised (default all); the others keep their start values.
    """

    name = "material"

    def __init__(self, start: Mapping[str, np.ndarray], vary: tuple[str, ...] | list[str] | None = None) -> None:
        self.start = {k: np.asarray(v, np.float32) for k, v in start.items()}
        self.vary = [k for k in self.start if vary is None or k in vary]

    def init(self) -> dict[str, Any]:
        out = {}
        for k in self.vary:
            lo, hi = RANGES[k]
            out[k] = to_drjit(logit((self.start[k] - lo) / (hi - lo)))
        return out

    def _physical(self, k: str, z: Any) -> Any:
        import drjit as dr

        lo, hi = RANGES[k]
        return lo + (hi - lo) * dr.rcp(1.0 + dr.exp(-z))

    def apply(self, latents: Mapping[str, Any], renderer: Any) -> None:
        for k in self.vary:
            renderer.write(material_key(renderer.layout, k), self._physical(k, latents[k]))

    def values(self, latents: Mapping[str, Any]) -> Values:
        out = {k: v.copy() for k, v in self.start.items()}
        for k in self.vary:
            out[k] = as_numpy(self._physical(k, latents[k]), self.start[k])
        return out


def material_key(layout: Any, name: str) -> str:
    """Mitsuba parameter key of a material value in a scene of ``layout``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> material_key(SimpleNamespace(textured=False), "roughness")
    'object.bsdf.roughness.value'
    """
    if name == "base_color":
        return f"{OBJECT}.bsdf.base_color." + ("data" if layout.textured else "value")
    if name == "specular":
        return f"{OBJECT}.bsdf.specular"
    return f"{OBJECT}.bsdf.{name}.value"


class Material(ParameterGroup):
    """The material group (see the module docstring)."""

    name = "material"

    def target_values(self, scene: Any, resolve: Callable[[str], Path] = Path) -> Values:
        return material_values(scene.material, resolve)

    def draw(self, cfg: Any, target: Values, rng: np.random.Generator) -> Values:
        tv, pm, vary = copy_values(target), cfg.prior.material, cfg.optimize.vary_material
        for name in MATERIAL_PARAMS:
            lo, hi = getattr(pm, name)
            if name not in vary:
                continue
            if name == "base_color":
                color = rng.uniform(lo, hi, 3).astype(np.float32)
                tv[name] = np.broadcast_to(color, tv[name].shape).astype(np.float32).copy()
            else:
                tv[name] = np.float32(rng.uniform(lo, hi))
        return tv

    def explicit_start(self, explicit: Any, drawn: Values, resolve: Callable[[str], Path] = Path, **_: Any) -> Values:
        return override_values(explicit, drawn, skip=("texture",))

    def parametrise(self, start: Values, cfg: Any, target: Params) -> GroupParam:
        return MaterialParam(start, cfg.optimize.vary_material)

    def write(self, renderer: Any, values: Mapping[str, np.ndarray]) -> None:
        for name, v in values.items():
            renderer.write(material_key(renderer.layout, name), to_drjit(v))

    def distance(self, target: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]) -> dict[str, float]:
        return material_distance(target, other)
