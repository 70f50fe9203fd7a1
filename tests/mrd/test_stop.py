"""The success stop's noise ceiling, on the real renderer and the default ImageNet model.

Independent truth: the ceiling is the similarity of fresh renders of the target itself, so it
must rise towards 1 as render noise falls (more samples per pixel), and a visibly different
scene must sit below it.
"""

from __future__ import annotations

import pytest

from mrd.config import MaterialSpec, RenderSettings, SceneSpec
from mrd.groups import target_params
from mrd.models import DEFAULT_LAYERS, ModelSpec, load_model
from mrd.render.variant import use_variant
from mrd.synthesis.objective import Objective, mean_features, noise_ceiling
from mrd.synthesis.stop import StopRule
from mrd.synthesis.target import layout_for

use_variant("llvm_ad_rgb")

from mrd.groups import renderer_for  # noqa: E402


@pytest.fixture(scope="module")
def setup():
    model = load_model(ModelSpec(name="mobilenetv2_100", layers=DEFAULT_LAYERS["mobilenetv2_100"]))
    spec = SceneSpec(id="c", material=MaterialSpec(base_color=[0.7, 0.25, 0.2], roughness=0.4))
    ren = renderer_for(layout_for(spec, RenderSettings(resolution=48, views=1, max_depth=2)), target_params(spec))
    return model, spec, ren


def _ceiling(model, ren, spp: int) -> tuple[float, Objective]:
    target = mean_features(ren, model, spp=spp, seed=1, n=4)
    objective = Objective(model, target)
    return noise_ceiling(ren, objective, spp=spp, seed=101, n=4), objective


def test_noise_ceiling_rises_with_samples_and_tops_a_different_scene(setup):
    model, spec, ren = setup
    low, _ = _ceiling(model, ren, 2)
    high, objective = _ceiling(model, ren, 64)
    assert low < high < 1.0, (low, high)
    assert 1 - high < 0.5 * (1 - low), (low, high)  # 32x the samples: well under half the shortfall
    blue = target_params(spec.model_copy(update={"material": MaterialSpec(base_color=[0.1, 0.2, 0.8])}))
    ren.set_params(blue, ("material",))
    other = objective.similarity(mean_features(ren, model, spp=64, seed=7))
    ren.set_params(target_params(spec))
    assert other < high, (other, high)
    # the stop threshold sits between the null maximum and the ceiling
    rule = StopRule(steps=1, stop_on_success=True, fraction=0.25)
    assert other < rule.threshold(other, high) < high
