"""`mrd score` adds similarities under another model to every metamer of a real HDF5 store, once."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from mrd.cli import main
from mrd.models import ModelSpec, load_model
from mrd.synthesis.score import make_spec, score_store
from mrd.synthesis.similarity import score_images
from stimuli import StimulusSet, StoreWriter, validate_store
from stimuli.errors import MRDError
from stimuli.records import MetamerRecord, SceneRecord

LUM = "mrd.models.testing:mean_luminance"
VIEWS, SIZE, NULLS = 2, 24, 2


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def luminance():
    return load_model(ModelSpec(id="lum", name=LUM, layers=["luminance"]))


@pytest.fixture()
def store(tmp_path, luminance):
    """Two scenes and three metamers with random display images, generated 'by' the luminance model."""
    rng = np.random.default_rng(7)
    path = tmp_path / "set.h5"
    params = {"material": {"base_color": np.array([0.5, 0.4, 0.3])}, "lighting": {"radiance": np.array(1.0)}}
    with StoreWriter(path, config_text="title = 'score test'\n") as w:
        w.add_model(luminance.record)
        scenes = {}
        for s in range(2):
            hdr = rng.random((VIEWS, SIZE, SIZE, 3), dtype=np.float32)
            scenes[f"s{s}"] = SceneRecord(
                scene_id=f"s{s}",
                description={"synthetic": s},
                params=params,
                views=[{"v": v} for v in range(VIEWS)],
                hdr=hdr,
                display=(hdr * 255).round().astype(np.uint8),
                spp=4,
                tone_map="clip-srgb exposure=0",
            )
            w.add_scene(scenes[f"s{s}"])
        for k in range(3):
            scene = scenes[f"s{k % 2}"]
            display = rng.integers(0, 256, (VIEWS, SIZE, SIZE, 3), dtype=np.uint8)
            null = rng.integers(0, 256, (NULLS, VIEWS, SIZE, SIZE, 3), dtype=np.uint8)
            sim = score_images(luminance, scene.display, display, null)  # as the generator records it
            w.add_metamer(
                MetamerRecord(
                    metamer_id=f"m{k}",
                    scene_id=scene.scene_id,
                    model_id="lum",
                    layers=["luminance"],
                    group="material",
                    seed=k,
                    initial_params=params,
                    final_params=params,
                    display=display,
                    hdr=display.astype(np.float32) / 255,
                    loss=np.linspace(1, 0, 5),
                    steps=5,
                    wall_time_s=0.1,
                    converged=True,
                    success=False,
                    similarity={"lum": sim},
                    physical_distance={},
                    tone_map="clip-srgb",
                    null_display=null,
                )
            )
    return path


def test_score_adds_the_default_model_to_every_metamer_and_a_second_run_changes_nothing(store, capsys):
    assert main(["score", str(store), "--model", "mobilenetv2_100"]) == 0
    assert "3 metamers scored, 0 already had scores" in capsys.readouterr().out
    assert validate_store(store) == []
    with StimulusSet(store) as s:
        rec = s.models["mobilenetv2_100"]
        assert rec.layers == ["blocks.2", "blocks.4", "blocks.6"] and rec.weight_sha256.startswith("b0353104")
        for xid in s.metamer_ids:
            sim = s.metamer(xid, images=False).similarity["mobilenetv2_100"]
            assert sim.cosine.shape == sim.rel_l2.shape == (VIEWS, 3)
            assert sim.null_cosine.shape == sim.null_rel_l2.shape == (NULLS, 3)
            assert np.all(sim.rel_l2 > 0) and np.all(sim.cosine < 1)  # random images are not metamers
        meta = s.metamer("m1")
        direct = score_images(
            load_model(make_spec("mobilenetv2_100")),
            s.scene_display(meta.scene_id),
            meta.display,
            meta.null_display,
        )
        stored = meta.similarity["mobilenetv2_100"]
        for name in ("cosine", "rel_l2", "null_cosine", "null_rel_l2"):
            np.testing.assert_array_equal(getattr(stored, name), getattr(direct, name))
        assert stored.classification == direct.classification  # top-1/top-5 agreement, stored
        assert s.metamer("m1", images=False).similarity["lum"].classification is None  # not a classifier
        digest = s.digest
    before = _sha(store)
    assert main(["score", str(store), "--model", "mobilenetv2_100"]) == 0
    assert "0 metamers scored, 3 already had scores" in capsys.readouterr().out
    assert _sha(store) == before
    with StimulusSet(store) as s:
        assert s.digest == digest and sorted(s.models) == ["lum", "mobilenetv2_100"]


def test_classification_agreement_follows_the_classes_the_network_assigns(luminance):
    """Top-1/top-5 agreement under MobileNetV2 against classes computed independently from its logits."""
    model = load_model(make_spec("mobilenetv2_100"))
    rng = np.random.default_rng(3)
    target = rng.integers(0, 256, (VIEWS, SIZE, SIZE, 3), dtype=np.uint8)
    same = score_images(model, target, target.copy(), np.stack([255 - target, target[:, ::-1]]))
    assert same.classification["top1"] == same.classification["top5"] == 1.0  # identical images: same classes
    grey = np.full_like(target, 128)
    other = score_images(model, target, grey)
    import torch

    from mrd.synthesis.similarity import display_to_tensor

    with torch.no_grad():
        t = model.logits(display_to_tensor(target, model.device)).argmax(1).tolist()
        g = model.logits(display_to_tensor(grey, model.device))
    top5 = g.topk(5, dim=1).indices.tolist()
    assert other.classification["target_top1"] == t
    assert other.classification["metamer_top1"] == g.argmax(1).tolist()
    assert other.classification["top1"] == np.mean([a == b for a, b in zip(t, g.argmax(1).tolist(), strict=True)])
    assert other.classification["top5"] == np.mean([c in k for c, k in zip(t, top5, strict=True)])
    assert other.classification["null_top1"] is None  # no null draws given
    assert 0.0 <= same.classification["null_top1"] <= same.classification["null_top5"] <= 1.0
    assert score_images(luminance, target, grey).classification is None


def test_rescoring_the_generating_model_reproduces_its_stored_similarities_exactly(store):
    result = score_store(store, make_spec(LUM, model_id="lum_again"), progress=False)
    assert (result.model_id, result.added, result.skipped) == ("lum_again", 3, 0)
    with StimulusSet(store) as s:
        for xid in s.metamer_ids:
            sims = s.metamer(xid, images=False).similarity
            for name in ("cosine", "rel_l2", "null_cosine", "null_rel_l2"):
                np.testing.assert_array_equal(getattr(sims["lum_again"], name), getattr(sims["lum"], name))
    # the generating model itself is already there: nothing to add
    assert score_store(store, make_spec(LUM, model_id="lum"), progress=False).added == 0


def test_an_id_taken_by_another_model_or_bad_input_is_refused(store, capsys):
    with pytest.raises(MRDError, match="already registered for a different model.*layers"):
        score_store(
            store, make_spec("test_resnet", ["layer1"], weights="random", model_id="lum"), progress=False
        )
    assert main(["score", str(store.with_name("missing.h5")), "--model", LUM]) == 2
    assert "missing.h5: no such file" in capsys.readouterr().err
    assert main(["score", str(store), "--model", "resnet5O", "--weights", "random"]) == 2
    assert "not a timm model name" in capsys.readouterr().err
    assert main(["score", str(store), "--model", LUM, "--weights-sha256", "xyz"]) == 2
    assert "--weights-sha256: Value error, must be 64 hexadecimal digits" in capsys.readouterr().err
    with StimulusSet(store) as s:
        assert sorted(s.models) == ["lum"]
