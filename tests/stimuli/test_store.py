"""Round trip, resume, refusals and locking of the stimulus-set store."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from stimuli import MRDError, StimulusSet, StoreWriter, validate_store
from stimuli.schema import SCHEMA_VERSION
from stimuli.testing import synthetic_metamer, synthetic_model, synthetic_scene, write_synthetic_store
from stimuli.writer import journal_dir, sha256_text


def test_round_trip_preserves_every_field(tmp_path):
    path = tmp_path / "set.h5"
    scene = synthetic_scene("s0", seed=3, views=3, size=16)
    met = synthetic_metamer(scene, "s0-m0", "toy", 0.1, seed=7)
    with StoreWriter(path, config_text="a = 1\n") as w:
        w.add_model(synthetic_model())
        w.add_scene(scene)
        w.add_metamer(met)
    with StimulusSet(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.attrs["config_sha256"] == sha256_text("a = 1\n")
        assert s.config_text == "a = 1\n"
        assert s.models["toy"] == synthetic_model()
        back = s.metamer("s0-m0")
        sc = s.scene("s0")
    assert np.array_equal(sc.display, scene.display) and np.array_equal(sc.hdr, scene.hdr)
    assert sc.description == scene.description and sc.views == scene.views
    for g in scene.params:
        for k, v in scene.params[g].items():
            assert np.array_equal(sc.params[g][k], v)
    for name in ("display", "hdr", "loss", "null_display"):
        assert np.array_equal(getattr(back, name), getattr(met, name)), name
    for name in ("scene_id", "model_id", "layers", "group", "seed", "steps", "converged", "success", "tone_map",
                 "info", "physical_distance"):
        assert getattr(back, name) == getattr(met, name), name
    sim, sim0 = back.similarity["toy"], met.similarity["toy"]
    assert sim.layers == sim0.layers and np.array_equal(sim.cosine, sim0.cosine)
    assert np.array_equal(sim.null_rel_l2, sim0.null_rel_l2)
    assert np.array_equal(back.final_params["material"]["base_color"], met.final_params["material"]["base_color"])
    assert validate_store(path) == []
    assert not journal_dir(path).exists()


def test_digest_is_stable_and_tracks_images(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    write_synthetic_store(a)
    write_synthetic_store(b, n_metamers_per_scene=1)  # packed in two runs
    write_synthetic_store(b)
    with StimulusSet(a) as sa, StimulusSet(b) as sb:
        da, db = sa.digest, sb.digest
    assert da == db  # independent of the pack schedule, creation time, chunking
    with StimulusSet(a) as sa:
        assert sa.digest == da  # stable across re-opening
    c = tmp_path / "c.h5"
    write_synthetic_store(c, n_metamers_per_scene=2)
    with StimulusSet(c) as sc:
        assert sc.digest != da


def test_resume_skips_completed_and_adds_missing(tmp_path):
    path = tmp_path / "set.h5"
    write_synthetic_store(path, n_metamers_per_scene=2)
    with StimulusSet(path) as s:
        first = s.metamer("scene0-m0")
    ids = write_synthetic_store(path, n_metamers_per_scene=4)
    with StimulusSet(path) as s:
        assert s.metamer_ids == sorted(ids)
        assert np.array_equal(s.metamer("scene0-m0").display, first.display)
    assert validate_store(path) == []


def test_resume_with_a_different_config_is_refused(tmp_path):
    path = tmp_path / "set.h5"
    StoreWriter(path, config_text="a = 1").close()
    with pytest.raises(MRDError, match="different config"):
        StoreWriter(path, config_text="a = 2")


def test_second_writer_is_refused_while_first_holds_the_store(tmp_path):
    path = tmp_path / "set.h5"
    with StoreWriter(path, config_text="a = 1"), pytest.raises(MRDError, match="another process"):
        StoreWriter(path, config_text="a = 1")
    StoreWriter(path, config_text="a = 1").close()  # released


def test_bad_units_are_refused_and_nothing_is_written(tmp_path):
    path = tmp_path / "set.h5"
    scene = synthetic_scene("s0")
    with StoreWriter(path, config_text="a = 1") as w:
        w.add_model(synthetic_model())
        with pytest.raises(MRDError, match="scene 's0' is not in"):
            w.add_metamer(synthetic_metamer(scene, "m0", "toy", 0.1))
        w.add_scene(scene)
        with pytest.raises(MRDError, match="not valid"):
            w.add_metamer(synthetic_metamer(scene, "bad/id", "toy", 0.1))
        bad = synthetic_metamer(scene, "m1", "toy", 0.1, group="Texture!")
        with pytest.raises(MRDError, match="group 'Texture!' is not a parameter-group name"):
            w.add_metamer(bad)
        wrong = synthetic_metamer(scene, "m2", "toy", 0.1)
        wrong.display = wrong.display.astype(np.float32)
        with pytest.raises(MRDError, match="display must be uint8"):
            w.add_metamer(wrong)
        with pytest.raises(MRDError, match="model 'other' is not in"):
            w.add_metamer(synthetic_metamer(scene, "m3", "other", 0.1))
    with StimulusSet(path) as s:
        assert s.metamer_ids == []


def test_add_similarity_replaces_and_is_durable(tmp_path):
    path = tmp_path / "set.h5"
    ids = write_synthetic_store(path)
    with StimulusSet(path) as s:
        sim = s.metamer(ids[0]).similarity["toy"]
    with StoreWriter(path) as w:
        w.add_model(synthetic_model("other"))
        sim.cosine = sim.cosine * 0.5
        w.add_similarity(ids[0], "other", sim)
        w.add_similarity(ids[0], "other", sim)  # replacing is fine
        with pytest.raises(MRDError, match="not in the store"):
            w.add_similarity("nope", "other", sim)
    with StimulusSet(path) as s:
        m = s.metamer(ids[0])
    assert set(m.similarity) == {"toy", "other"}
    assert np.allclose(m.similarity["other"].cosine, sim.cosine)
    assert validate_store(path) == []


def test_unknown_major_schema_version_is_refused(tmp_path):
    path = tmp_path / "set.h5"
    write_synthetic_store(path)
    with h5py.File(path, "a") as f:
        f.attrs["schema_version"] = "2.0"
    with pytest.raises(MRDError, match="schema_version '2.0' is not supported"):
        StimulusSet(path)
    with pytest.raises(MRDError, match="cannot be written"):
        StoreWriter(path)


def test_missing_file_and_non_hdf5_are_clear(tmp_path):
    with pytest.raises(MRDError, match="no such file"):
        StimulusSet(tmp_path / "none.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(MRDError, match="not a readable HDF5"):
        StimulusSet(junk)
