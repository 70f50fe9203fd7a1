"""Schema 1.1: independent renders, render seeds, the success criterion, the digest and 1.0 stores."""

from __future__ import annotations

import hashlib
import json
import shutil

import h5py
import numpy as np
import pytest

from stimuli import MRDError, StimulusSet, StoreWriter, validate_store
from stimuli.checksum import stamp_group
from stimuli.testing import synthetic_metamer, synthetic_model, synthetic_scene, write_synthetic_store

CRIT = {"oddity_pc": 0.36, "oddity_pc_max": 0.42, "null_p": 0.001, "null_alpha": 0.01, "beats_start": True}


def _write(path, scene, *metamers):
    with StoreWriter(path, config_text="a = 1\n") as w:
        w.add_model(synthetic_model())
        w.add_scene(scene)
        for m in metamers:
            w.add_metamer(m)


def test_renders_round_trip_and_are_independent(tmp_path):
    path = tmp_path / "set.h5"
    scene = synthetic_scene("s0", seed=2, views=3, size=16, n_renders=5)
    met = synthetic_metamer(scene, "m0", "toy", 0.1, seed=4, n_renders=3)
    met.criterion = dict(CRIT)
    met.success = True
    _write(path, scene, met)
    assert validate_store(path) == []
    with StimulusSet(path) as s:
        assert s.n_renders("scene", "s0") == 5 and s.n_renders("metamer", "m0") == 3
        assert s.render_seeds("scene", "s0") == scene.render_seeds
        assert np.array_equal(s.renders("scene", "s0"), scene.renders)
        assert np.array_equal(s.render("metamer", "m0", 0), s.metamer_display("m0"))
        back = s.metamer("m0")
        assert back.criterion == CRIT and back.render_seeds == met.render_seeds
        assert np.array_equal(back.renders, met.renders)
        assert s.scene("s0", images=False).renders is None  # not read without images
        with pytest.raises(MRDError, match="has renders 0..2, not 3"):
            s.render("metamer", "m0", 3)
        s.require_renders()
        assert s.has_renders
    r = scene.renders.astype(int)
    assert len(set(scene.render_seeds)) == 5
    for i in range(1, 5):  # every render differs from every other one, by noise only
        assert (r[i] != r[0]).any() and np.abs(r[i] - r[0]).max() <= 3
    assert (r[1] != r[2]).any()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: setattr(m, "renders", m.renders[::-1].copy()), r"renders\[0\] must equal display"),
        (lambda m: setattr(m, "render_seeds", m.render_seeds[:2]), "has 2 seeds for 3 renders"),
        (lambda m: setattr(m, "render_seeds", [5, 5, 6]), "repeat a seed"),
        (lambda m: setattr(m, "render_seeds", [1, 2, 2**70]), r"render_seeds\[2\] = 1180591620717411303424 is out"),
        (lambda m: setattr(m, "render_seeds", [1, 2, True]), r"render_seeds\[2\] = True is not an integer"),
        (lambda m: setattr(m, "renders", m.renders[:, :1]), "renders must be uint8"),
        (lambda m: setattr(m, "seed", 2**70), "seed = 1180591620717411303424 is out of range"),
        (lambda m: setattr(m, "criterion", dict(CRIT, null_p=0.5)), "success = True contradicts its criterion"),
        (lambda m: setattr(m, "criterion", dict(CRIT, null_p=float("nan"))), "null_p = nan; expected a finite"),
        (lambda m: setattr(m, "criterion", {"oddity_pc": 0.3}), "criterion lacks oddity_pc_max"),
        (lambda m: setattr(m, "criterion", dict(CRIT, beats_start=1)), "beats_start = 1; expected true or false"),
    ],
)
def test_writer_refuses_bad_renders_seeds_and_criteria(tmp_path, change, message):
    path = tmp_path / "set.h5"
    scene = synthetic_scene("s0", n_renders=2)
    met = synthetic_metamer(scene, "m0", "toy", 0.1, n_renders=3)
    met.criterion, met.success = dict(CRIT), True
    change(met)
    with StoreWriter(path, config_text="a = 1\n") as w:
        w.add_model(synthetic_model())
        w.add_scene(scene)
        with pytest.raises(MRDError, match=message):
            w.add_metamer(met)
    with StimulusSet(path) as s:
        assert s.metamer_ids == []


def test_validator_checks_renders_and_criterion(tmp_path):
    base = tmp_path / "base.h5"
    scene = synthetic_scene("s0", n_renders=2)
    met = synthetic_metamer(scene, "m0", "toy", 0.1, n_renders=2)
    met.criterion, met.success = dict(CRIT), True
    _write(base, scene, met)
    cases = {
        "display != renders[0]": (lambda f: f["scenes/s0/renders"].__setitem__((0, 0, 0, 0), 0),
                                  "renders[0] differs from display"),
        "renders deleted": (lambda f: f["metamers/m0"].__delitem__("renders"),
                            "lists 2 renders but the dataset 'renders' is missing"),
        "seeds wrong": (lambda f: f["scenes/s0"].attrs.__setitem__("render_seeds", "[1]"),
                        "render_seeds has 1 seeds for 2 renders"),
        "success flipped": (lambda f: f["metamers/m0"].attrs.__setitem__("success", False),
                            "success = False contradicts its criterion"),
        "criterion changed": (lambda f: f["metamers/m0"].attrs.__setitem__(
            "criterion", json.dumps(dict(CRIT, oddity_pc=0.9))), "success = True contradicts its criterion"),
    }
    for name, (corrupt, message) in cases.items():
        path = tmp_path / f"{name}.h5"
        path.write_bytes(base.read_bytes())
        with h5py.File(path, "a") as f:
            corrupt(f)
        problems = validate_store(path)
        assert any(message in p for p in problems), (name, problems)


def _independent_digest(path, form: str = "1.2") -> str:
    """The digest as docs/schema.md defines it (``form`` 1.2 or 1.1), computed from raw bytes with hashlib only."""
    outer, units = hashlib.sha256(), []
    with h5py.File(path, "r") as f:
        for kind in ("scenes", "metamers"):
            for uid in sorted(f[kind]):
                unit = hashlib.sha256()
                for name in ("display", "renders"):
                    if name not in f[kind][uid]:
                        continue
                    arr = f[kind][uid][name][()]
                    inner = hashlib.sha256(f"{arr.dtype.str}|{arr.shape}\0".encode() + arr.tobytes()).hexdigest()
                    outer.update(f"{kind}/{uid}/{name}:{arr.shape}\0{inner}".encode())
                    unit.update(f"{name}:{arr.shape}\0{inner}".encode())
                units.append(f"{kind}/{uid}\0{unit.hexdigest()}\n")
    if form == "1.1":
        return outer.hexdigest()
    return hashlib.sha256("".join(sorted(units)).encode()).hexdigest()


def test_digest_follows_its_documented_definition_and_covers_renders(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    write_synthetic_store(a, n_renders=3)
    write_synthetic_store(b, n_renders=2)
    with StimulusSet(a) as sa, StimulusSet(b) as sb:
        assert sa.schema_version == "1.2"
        assert sa.digest == _independent_digest(a)
        assert sa.digest != sb.digest  # same display images, other renders
    old = tmp_path / "old.h5"  # a 1.1 store keeps its 1.1 digest
    shutil.copy(a, old)
    with h5py.File(old, "a") as f:
        f.attrs["schema_version"], f.attrs["content_digest"] = "1.1", _independent_digest(old, "1.1")
        stamp_group(f)
    assert validate_store(old) == []
    with StimulusSet(old) as s:
        assert s.verify_images() == _independent_digest(old, "1.1")
    with h5py.File(a, "a") as f:  # one render pixel changed: the recomputed digest changes
        f["metamers/scene1-m2/renders"][2, 0, 0, 0, 0] ^= 1
    assert _independent_digest(a) != StimulusSet(a).digest
    assert any("content digest mismatch" in p for p in validate_store(a))


def _as_schema_10(path) -> str:
    """Turn a store without renders into what a 1.0 writer made: no checksums, the 1.0 digest."""
    h = hashlib.sha256()
    with h5py.File(path, "a") as f:
        f.attrs["schema_version"] = "1.0"

        def strip(name, obj):
            if "sha256" in obj.attrs:
                del obj.attrs["sha256"]

        f.visititems(strip)
        del f.attrs["sha256"]
        for kind in ("scenes", "metamers"):
            for uid in sorted(f[kind]):
                arr = f[kind][uid]["display"][()]
                h.update(f"{kind}/{uid}:{arr.shape}\0".encode() + arr.tobytes())
        f.attrs["content_digest"] = h.hexdigest()
    return h.hexdigest()


def test_schema_10_stores_stay_readable_and_say_they_lack_renders(tmp_path):
    path = tmp_path / "old.h5"
    write_synthetic_store(path, n_renders=0)
    digest = _as_schema_10(path)
    assert validate_store(path) == []
    with StimulusSet(path) as s:
        assert s.schema_version == "1.0" and s.digest == digest
        assert s.n_renders("scene", "scene0") == 0 and not s.has_renders
        assert s.metamer("scene0-m0").renders is None
        with pytest.raises(MRDError, match=r"scene 'scene0' has no independent renders \(schema 1.0.*mrd generate"):
            s.require_renders()
    ids = write_synthetic_store(path, n_scenes=2, n_metamers_per_scene=4, n_renders=0)  # a 1.1 writer resumes
    with StimulusSet(path) as s:
        assert s.schema_version == "1.0" and s.metamer_ids == sorted(ids)
    assert validate_store(path) == []
    with h5py.File(path, "a") as f:  # the 1.0 digest still guards the display images
        f["metamers/scene0-m1/display"][0, 0, 0, 0] ^= 1
    assert any("content digest mismatch" in p for p in validate_store(path))
