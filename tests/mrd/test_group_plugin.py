"""A parameter group added from outside the package: registered here, generated end to end.

The test group ``clearcoat`` varies the principled BSDF's clear-coat weight (a Mitsuba parameter no
shipped group touches). It is one class, its settings model, and a registration: the recipe of
docs/groups.md. Nothing in ``mrd`` is edited for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import Field

from mrd.groups import register_group, unregister_group
from mrd.groups.base import GroupParam, ParameterGroup, Values, logit
from mrd.render.scene import OBJECT
from mrd.specbase import StrictModel

KEY = f"{OBJECT}.bsdf.clearcoat.value"
TARGET = 0.2


class ClearcoatSettings(StrictModel):
    lr: float = Field(0.3, gt=0)
    prior: list[float] = [0.6, 1.0]


class ClearcoatParam(GroupParam):
    name = "clearcoat"

    def __init__(self, start: Mapping[str, np.ndarray]) -> None:
        self.start = {"weight": np.asarray(start["weight"], np.float32)}

    def init(self) -> dict[str, Any]:
        import mitsuba as mi

        return {"weight": mi.Float(float(logit(self.start["weight"])))}

    def _physical(self, z: Any) -> Any:
        import drjit as dr

        return dr.rcp(1.0 + dr.exp(-z))

    def apply(self, latents: Mapping[str, Any], renderer: Any) -> None:
        renderer.write(KEY, self._physical(latents["weight"]))

    def values(self, latents: Mapping[str, Any]) -> Values:
        return {"weight": np.float32(np.asarray(self._physical(latents["weight"])).reshape(-1)[0])}


class Clearcoat(ParameterGroup):
    name = "clearcoat"
    settings_model = ClearcoatSettings

    def target_values(self, scene: Any, resolve: Any = Path) -> Values:
        return {"weight": np.float32(TARGET)}

    def draw(self, cfg: Any, target: Values, rng: np.random.Generator) -> Values:
        lo, hi = self.options(cfg).prior
        return {"weight": np.float32(rng.uniform(lo, hi))}

    def parametrise(self, start: Values, cfg: Any, target: Any) -> GroupParam:
        return ClearcoatParam(start)

    def learning_rate(self, cfg: Any) -> float:
        return self.options(cfg).lr

    def write(self, renderer: Any, values: Mapping[str, np.ndarray]) -> None:
        import mitsuba as mi

        renderer.write(KEY, mi.Float(float(values["weight"])))

    def distance(self, target: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]) -> dict[str, float]:
        return {"weight": float(abs(float(target["weight"]) - float(other["weight"])))}


CONFIG = """
title = "plugin group"
[render]
resolution = 16
views = 1
spp = 4
display_spp = 16
max_depth = 2
[optimize]
steps = 8
target_renders = 2
stop_on_success = false
[null]
draws = 2
[groups.clearcoat]
lr = 0.3
prior = [0.7, 1.0]
[[models]]
name = "resnet18"
layers = ["layer2"]
weights = "random"
[[scenes]]
id = "ball"
[scenes.shape]
kind = "icosphere"
subdivisions = 2
[scenes.lighting]
light_intensity = [40.0, 40.0, 40.0]
[[metamers]]
groups = ["clearcoat"]
"""


@pytest.fixture
def clearcoat():
    group = register_group(Clearcoat())
    yield group
    unregister_group("clearcoat")


def test_a_group_registered_from_outside_generates_a_metamer(tmp_path, clearcoat):
    from mrd.render.variant import use_variant

    use_variant("llvm_ad_rgb")
    from mrd.synthesis.generate import generate
    from stimuli import StimulusSet, validate_store

    cfg = tmp_path / "plugin.toml"
    cfg.write_text(CONFIG)
    summary = generate(cfg, tmp_path / "plugin.h5", variant="llvm_ad_rgb", progress=False)
    assert summary.made == ["ball.clearcoat.resnet18.s0"]
    assert validate_store(tmp_path / "plugin.h5") == []
    with StimulusSet(tmp_path / "plugin.h5") as s:
        m = s.metamer("ball.clearcoat.resnet18.s0")
        target = s.scene("ball").params
        assert m.group == "clearcoat" and m.steps == 8
        assert float(target["clearcoat"]["weight"]) == pytest.approx(TARGET)
        start, final = float(m.initial_params["clearcoat"]["weight"]), float(m.final_params["clearcoat"]["weight"])
        assert 0.7 <= start <= 1.0 and final != start  # drawn from the group's own prior, then optimised
        for other in ("shape", "material", "lighting"):  # the other groups are the target's, bit for bit
            for k, v in target[other].items():
                assert np.array_equal(m.final_params[other][k], v), (other, k)
        assert m.physical_distance == {"weight": pytest.approx(abs(final - TARGET))}
        assert 0.0 < final < 1.0 and len(m.loss) == 8 and np.isfinite(m.loss).all()  # optimised within range
        assert m.info["lr"] == 0.3


def test_unknown_group_settings_are_refused_naming_the_field(tmp_path, clearcoat):
    from mrd.config import parse_config
    from stimuli.errors import MRDError

    with pytest.raises(MRDError, match="groups.clearcoat"):
        parse_config(CONFIG.replace("lr = 0.3", "lr = -1"), "plugin.toml")
    unregister_group("clearcoat")
    with pytest.raises(MRDError, match="unknown parameter groups"):
        parse_config(CONFIG, "plugin.toml")
