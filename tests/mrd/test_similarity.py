"""Similarity measures: known invariances, exact values, and scores from display images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mrd.models import ModelSpec, load_model
from mrd.synthesis.similarity import activation_distance, display_to_tensor, layer_similarity, score_images
from stimuli.errors import MRDError


@pytest.fixture(scope="module")
def mobilenet():
    return load_model(ModelSpec(name="mobilenetv2_100", layers=["blocks.2", "blocks.6"]))


@pytest.fixture(scope="module")
def luminance():
    return load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))


def _feats(seed: int, batch: int = 3) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"a": torch.randn(batch, 8, 5, 5, generator=g), "b": torch.rand(batch, 40, generator=g)}


def test_identical_activations_have_cosine_one_and_rel_l2_zero():
    f = _feats(0)
    cos, rel = layer_similarity(f, f)
    assert cos.shape == rel.shape == (3, 2)
    np.testing.assert_allclose(cos, 1.0, atol=1e-12)
    np.testing.assert_array_equal(rel, 0.0)
    assert float(activation_distance(f, f, "rel_l2")) == 0.0
    assert abs(float(activation_distance(f, f, "cosine"))) < 1e-6


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.05, 20.0), seed=st.integers(0, 10_000))
def test_scaling_changes_rel_l2_but_not_cosine(scale, seed):
    t = _feats(seed)
    a = {k: scale * v for k, v in t.items()}
    cos, rel = layer_similarity(a, t)
    np.testing.assert_allclose(cos, 1.0, atol=1e-9)
    np.testing.assert_allclose(rel, abs(scale - 1.0), rtol=1e-5, atol=1e-6)  # |s t - t| / |t| = |s - 1|
    other = _feats(seed + 1)
    c1, r1 = layer_similarity(other, t)
    c2, r2 = layer_similarity({k: scale * v for k, v in other.items()}, t)
    np.testing.assert_allclose(c1, c2, atol=1e-6)  # scaled in float32
    if abs(scale - 1) > 0.01:
        assert not np.allclose(r1, r2)


def test_values_against_a_direct_numpy_computation():
    a, t = _feats(1), _feats(2)
    cos, rel = layer_similarity(a, t)
    for j, k in enumerate(["a", "b"]):
        x, y = a[k].reshape(3, -1).double().numpy(), t[k].reshape(3, -1).double().numpy()
        np.testing.assert_allclose(
            cos[:, j], (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
        )
        np.testing.assert_allclose(
            rel[:, j], np.linalg.norm(x - y, axis=1) / np.linalg.norm(y, axis=1), rtol=1e-6
        )
    d_rel = float(activation_distance(a, t, "rel_l2"))
    d_cos = float(activation_distance(a, t, "cosine"))
    assert d_rel == pytest.approx(rel.mean(), rel=1e-5) and d_cos == pytest.approx(1 - cos.mean(), rel=1e-5)
    one = {k: v[:1] for k, v in t.items()}  # a target batch of one is broadcast
    cos1, _ = layer_similarity(a, one)
    np.testing.assert_allclose(cos1, layer_similarity(a, {k: v[:1].expand_as(v) for k, v in t.items()})[0])


def test_bad_inputs_are_named():
    f = _feats(0)
    with pytest.raises(MRDError, match="kind 'l1' is not one of rel_l2, cosine"):
        activation_distance(f, f, kind="l1")
    with pytest.raises(MRDError, match=r"lack layers \['b'\]"):
        layer_similarity(f, {"a": f["a"]})
    with pytest.raises(MRDError, match="layer 'a' has shape"):
        layer_similarity({"a": f["a"]}, {"a": f["a"][:, :4]})
    with pytest.raises(MRDError, match="uint8"):
        display_to_tensor(np.zeros((2, 4, 4, 3), np.float32))


def test_display_to_tensor_is_exact():
    disp = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    x = display_to_tensor(disp)
    assert x.shape == (2, 3, 3, 4) and x.dtype == torch.float32
    np.testing.assert_array_equal(x.permute(0, 2, 3, 1).numpy(), disp.astype(np.float32) / np.float32(255))


def test_score_images_with_the_default_model(mobilenet):
    rng = np.random.default_rng(0)
    target = rng.integers(0, 256, (2, 40, 48, 3), dtype=np.uint8)
    nulls = rng.integers(0, 256, (3, 2, 40, 48, 3), dtype=np.uint8)
    same = score_images(mobilenet, target, target.copy(), nulls)
    assert same.layers == ["blocks.2", "blocks.6"]
    assert same.cosine.shape == same.rel_l2.shape == (2, 2) and same.null_cosine.shape == (3, 2)
    np.testing.assert_allclose(same.cosine, 1.0, atol=1e-9)
    np.testing.assert_array_equal(same.rel_l2, 0.0)
    # the null reference is the per-view similarity to the target, averaged over views
    with torch.no_grad():
        t = mobilenet.features(display_to_tensor(target))
        c, r = layer_similarity(mobilenet.features(display_to_tensor(nulls[1])), t)
    np.testing.assert_allclose(same.null_cosine[1], c.mean(0), rtol=1e-12)
    np.testing.assert_allclose(same.null_rel_l2[1], r.mean(0), rtol=1e-12)
    assert np.all(same.null_cosine < 0.999)
    empty = score_images(mobilenet, target, target, np.zeros((0, 0, 0, 0, 3), np.uint8))
    assert empty.null_cosine.shape == empty.null_rel_l2.shape == (0, 2)
    with pytest.raises(MRDError, match="null images must be"):
        score_images(mobilenet, target, target, nulls[:, :1])
    with pytest.raises(MRDError, match="metamer has 1 views but its target 2"):
        score_images(mobilenet, target, target[:1])


def test_mean_luminance_scores_follow_the_srgb_formula(luminance):
    def lin(v: float) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    target = np.full((1, 16, 16, 3), 128, np.uint8)
    darker = np.full((1, 16, 16, 3), 64, np.uint8)
    sim = score_images(luminance, target, darker)
    assert sim.rel_l2[0, 0] == pytest.approx(abs(lin(64) - lin(128)) / lin(128), rel=1e-5)
    assert sim.cosine[0, 0] == pytest.approx(1.0)  # a one-number layer: cosine cannot tell; rel_l2 can
    # a colour change that keeps luminance is (nearly, at 8 bits) invisible to this model

    def lum(rgb: tuple[int, int, int]) -> float:
        return 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2])

    orange = (220, 120, 20)
    bluish = min(
        ((r, g, 230) for r in range(0, 256, 4) for g in range(256)), key=lambda c: abs(lum(c) - lum(orange))
    )
    a = np.broadcast_to(np.array(orange, np.uint8), (1, 16, 16, 3))
    b = np.broadcast_to(np.array(bluish, np.uint8), (1, 16, 16, 3))
    sim2 = score_images(luminance, a, b)
    expected = abs(lum(bluish) - lum(orange)) / lum(orange)
    assert expected < 1e-3 and sim2.rel_l2[0, 0] == pytest.approx(expected, abs=1e-6)
    assert sim.rel_l2[0, 0] > 100 * sim2.rel_l2[0, 0]
