"""A planted invariance: a network that sees only mean luminance has material metamers that the
criterion accepts, far from the target in colour (Delta E > 20), and that MobileNetV2 tells apart.

This is the criterion checked against a known truth: the luminance network cannot see an
iso-luminant change of base colour, so a metamer of it is one; a network that sees colour is not
fooled by it.
"""

from __future__ import annotations

import numpy as np
import pytest

CONFIG = """
title = "planted luminance invariance"
seed = 3
[render]
resolution = 32
views = 1
spp = 8
display_spp = 64
display_renders = 6
max_depth = 2
distance = 3.2
[optimize]
steps = 250
distance = "rel_l2"
target_renders = 16
spp_final = 32
mode = "experiment"
lr_decay = "cosine"
# the default (independent-residual) estimator; measured 2026-12-02: at rate 0.1 it stopped short
# (model oddity pc 0.87 at 80 steps, 0.50 at 150), at 0.2 a confirmed pass at step 120 (stored pc 0.39);
# two consecutive passes (criterion.passes) need the spp ramp and a longer cap
vary_material = ["base_color"]
[optimize.lr]
material = 0.2
[null]
draws = 30
[criterion]
check_every = 10
triplets = 300
[[models]]
id = "luminance"
name = "mrd.models.testing:mean_luminance"
layers = ["luminance"]
[[models]]
name = "mobilenetv2_100"
layers = ["blocks.2", "blocks.4"]
[[scenes]]
id = "red"
shape = { kind = "icosphere", subdivisions = 3 }
material = { base_color = [0.7, 0.2, 0.15], roughness = 0.6, specular = 0.3 }
[[metamers]]
groups = ["material"]
models = ["luminance"]
[metamers.start.material]
base_color = [0.15, 0.45, 0.7]
"""


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from mrd.render.variant import use_variant

    use_variant("llvm_ad_rgb")
    from mrd.synthesis.generate import generate

    d = tmp_path_factory.mktemp("planted")
    (d / "planted.toml").write_text(CONFIG)
    generate(d / "planted.toml", d / "planted.h5", variant="llvm_ad_rgb", progress=False)
    return d / "planted.h5"


def test_luminance_metamer_is_accepted_far_in_colour_and_mobilenet_tells_it_apart(planted):
    from mrd.models import ModelSpec, load_model
    from mrd.render.color import delta_e
    from mrd.synthesis.criterion import model_oddity
    from mrd.synthesis.distances import render_features
    from stimuli import StimulusSet

    with StimulusSet(planted) as s:
        mid = s.metamer_ids[0]
        m = s.metamer(mid)
        target_renders, metamer_renders = s.renders("scene", "red"), s.renders("metamer", mid)
        target = s.scene("red").params["material"]["base_color"]
    final = m.final_params["material"]["base_color"]
    assert m.success, m.criterion  # the luminance network cannot tell it from a re-render
    checks = m.info["criterion_checks"]  # the run stopped on a check confirmed on fresh renders
    assert checks[-1]["passed"] and checks[-1]["confirm_oddity_pc"] <= 0.45 and checks[-1]["oddity_pc"] <= 0.45
    assert all("confirm_oddity_pc" in c for c in checks if c["passed"])
    # ... and on the check before it (criterion.passes = 2 consecutive passes by default)
    assert m.info["passes"] == 2 and checks[-2]["passed"] and checks[-2]["step"] < checks[-1]["step"], (m.info["stop_reason"], checks)
    assert m.info["stop_reason"] == "criterion"
    assert m.criterion["oddity_pc"] <= 0.45 and m.criterion["null_p"] <= 0.05 and m.criterion["beats_start"]
    assert delta_e(np.asarray(target, float), np.asarray(final, float)) > 20  # far in colour
    # the network that sees colour: picks the metamer as the odd one far more often
    mobilenet = load_model(ModelSpec(name="mobilenetv2_100", layers=["blocks.2", "blocks.4"]))
    odd = model_oddity(render_features(mobilenet, target_renders), render_features(mobilenet, metamer_renders), 300,
                       np.random.default_rng(0))  # fmt: skip
    assert odd.pc > 0.8 > m.criterion["oddity_pc"]
    # and its similarity to the target is lower than the generating network's
    assert m.similarity["mobilenetv2_100"].rel_l2.mean() > 5 * m.similarity["luminance"].rel_l2.mean()
