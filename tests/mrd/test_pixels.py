"""The pixel baseline model: its features are the resized image, it loads by name and by module path,
a config with it parses, and it generates a metamer through the real renderer (gradient included).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mrd.config import parse_config
from mrd.models import ModelSpec, default_layers, load_model
from mrd.synthesis.generate import generate
from stimuli import StimulusSet, validate_store
from stimuli.errors import MRDError

CONFIG = """
seed = 2
[render]
resolution = 24
spp = 4
display_spp = 16
views = 1
max_depth = 2
[optimize]
steps = 4
target_renders = 2
stop_on_success = false
[null]
draws = 2
[[models]]
name = "pixels_24"
layers = ["pixels"]
[[scenes]]
id = "red"
material = { base_color = [0.75, 0.22, 0.18], roughness = 0.4, specular = 0.5 }
[[metamers]]
groups = ["material"]
[metamers.start.material]
base_color = [0.1, 0.15, 0.7]
"""


def test_features_are_the_image_at_the_input_size():
    m = load_model(ModelSpec(name="pixels", layers=["pixels"]))
    assert (
        m.record.input_size == (3, 64, 64)
        and m.record.mean == (0.0, 0.0, 0.0)
        and m.record.std == (1.0, 1.0, 1.0)
    )
    assert m.layer_shapes == {"pixels": (3, 64, 64)}
    x = torch.rand(2, 3, 64, 64)
    assert torch.equal(m.features(x)["pixels"], x)  # at the input size: the image itself
    flat = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, 40, 40)
    assert torch.allclose(m.features(flat)["pixels"], flat[:, :, :1, :1].expand(1, 3, 64, 64), atol=1e-6)
    big = torch.rand(1, 3, 128, 128)
    want = F.interpolate(big, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
    assert torch.equal(m.features(big)["pixels"], want)
    # 2:1 antialiased bilinear keeps a 2x2-block image's block values away from the edges
    blocks = torch.rand(1, 3, 64, 64).repeat_interleave(2, 2).repeat_interleave(2, 3)
    inner = m.features(blocks)["pixels"][..., 1:-1, 1:-1]
    assert abs(float(inner.mean()) - float(blocks[..., 2:-2, 2:-2].mean())) < 0.01


def test_gradient_is_the_identity():
    m = load_model(ModelSpec(name="pixels_16", layers=["pixels"]))
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    w = torch.randn(1, 3, 16, 16)
    (m.features(x)["pixels"] * w).sum().backward()
    assert torch.equal(x.grad, w)


def test_names_sizes_and_module_path():
    by_path = load_model(ModelSpec(name="mrd.models.pixels:pixels", layers=["pixels"]))
    by_name = load_model(ModelSpec(name="pixels", layers=["pixels"]))
    assert by_path.record.input_size == by_name.record.input_size == (3, 64, 64)
    assert by_name.record.name == "pixels" and by_name.record.model_id == "pixels"
    assert by_path.record.model_id == "mrd.models.pixels_pixels"
    assert load_model(ModelSpec(name="pixels_128", layers=["pixels"])).record.input_size == (3, 128, 128)
    assert default_layers("pixels") == default_layers("pixels_32") == ["pixels"]


def test_bad_pixel_specs_are_refused_clearly():
    with pytest.raises(MRDError, match=r"field 'layers' = \['blocks.4'\]"):
        load_model(ModelSpec(name="pixels", layers=["blocks.4"]))
    with pytest.raises(MRDError, match="has no weights"):
        load_model(ModelSpec(name="pixels", layers=["pixels"], weights="hub"))
    with pytest.raises(MRDError, match=r"input size 4 must lie in \[8, 1024\]"):
        load_model(ModelSpec(name="pixels_4", layers=["pixels"]))


def test_config_with_pixels_parses():
    cfg = parse_config(CONFIG, "pixels.toml")
    assert [m.name for m in cfg.models] == ["pixels_24"]
    assert [j.metamer_id for j in cfg.jobs()] == ["red.material.pixels_24.s0"]


def test_pixels_model_generates_a_metamer_through_the_renderer(tmp_path):
    cfg = tmp_path / "pixels.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "pixels.h5"
    generate(cfg, out, progress=False)
    assert validate_store(out) == []
    with StimulusSet(out) as s:
        assert s.models["pixels_24"].name == "pixels_24" and s.models["pixels_24"].input_size == (3, 24, 24)
        target = s.scene("red")
        m = s.metamer(s.metamer_ids[0])
    assert m.steps == 4 and np.all(np.isfinite(m.loss))
    assert m.loss[-1] < m.loss[0]  # image-matching pulls the blue start towards the red target
    start, final = m.initial_params["material"]["base_color"], m.final_params["material"]["base_color"]
    goal = target.params["material"]["base_color"]
    assert np.linalg.norm(final - goal) < np.linalg.norm(start - goal)
    assert set(m.similarity) == {"pixels_24"} and m.similarity["pixels_24"].rel_l2.shape == (1, 1)
