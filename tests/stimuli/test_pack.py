"""The O(unit) append and the pack step: what adding a unit touches, the incremental digest, readers on
an unpacked set, `mrd pack`, units a kill left after a pack's rename, and a new unit kind as a table entry."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from mrd.cli import main
from stimuli import MRDError, StimulusSet, StoreWriter, validate_store
from stimuli.checksum import array_sha256, stamp_tree
from stimuli.digest import UNIT_DIGEST_ATTR, content_digest, image_units, incremental_digest, verify_images
from stimuli.journal import journal_dir, unit_files
from stimuli.testing import synthetic_metamer, synthetic_model, synthetic_scene, write_synthetic_store
from stimuli.units import KINDS, UnitKind

ROOT = Path(__file__).resolve().parents[2]


def _compare(a: Path, b: Path) -> list[str]:
    spec = importlib.util.spec_from_file_location("compare_stores", ROOT / "scripts" / "compare_stores.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.compare(str(a), str(b))


def _fingerprint(path: Path) -> tuple[int, int, int, str]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


def test_adding_a_unit_writes_only_that_unit(tmp_path: Path) -> None:
    path = tmp_path / "set.h5"
    write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=2)
    before = _fingerprint(path)
    scene = synthetic_scene("scene0", seed=0, n_renders=4)
    with StoreWriter(path, config_text="synthetic = true\n") as w:
        for k in range(5):
            w.add_metamer(synthetic_metamer(scene, f"scene0-x{k}", "toy", 0.1, seed=k, n_renders=4))
            assert _fingerprint(path) == before  # the store file is neither copied, rewritten nor touched
            files = unit_files(journal_dir(path))
            assert [f.name for f in files][-1] == f"{k + 1:08d}-metamer.h5" and len(files) == k + 1
            assert files[-1].stat().st_size == w.pending[-1].size  # the unit's own bytes, nothing else
            with h5py.File(files[-1], "r") as uf:  # the unit carries its per-unit hash, made once
                assert len(uf["unit"].attrs[UNIT_DIGEST_ATTR]) == 64
    assert _fingerprint(path)[0] != before[0]  # packed on close: a new file replaced the old one
    with StimulusSet(path) as s:
        assert len(s.metamer_ids) == 7
    assert validate_store(path) == [] and not journal_dir(path).exists()


def test_the_digest_is_incremental_and_independent_of_write_order_and_packing(tmp_path: Path) -> None:
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    ids = write_synthetic_store(a, n_scenes=2, n_metamers_per_scene=3)
    scenes = {s: synthetic_scene(f"scene{s}", seed=s, n_renders=4) for s in (1, 0)}  # other order, three packs
    for part in (ids[::-1][:2], ids[::-1][2:5], ids[::-1][5:]):
        with StoreWriter(b, config_text="synthetic = true\n") as w:
            w.add_model(synthetic_model())
            for scene in scenes.values():
                w.add_scene(scene)
            for mid in part:
                s, k = (int(x) for x in mid.removeprefix("scene").split("-m"))
                w.add_metamer(synthetic_metamer(scenes[s], mid, "toy", 0.02 + 0.04 * k, seed=100 * s + k,
                                                group=("material", "shape")[k % 2], n_renders=4))
    assert _compare(a, b) == []  # the same store, whatever the order and number of packs
    digests = []
    for path in (a, b):
        with h5py.File(path, "r") as f:
            units = list(image_units(f))
            assert len(units) == 8 and all(len(g.attrs[UNIT_DIGEST_ATTR]) == 64 for *_, g, _n in units)
            recorded = str(f.attrs["content_digest"])
            # what the pack combined from the per-unit hashes == the digest from the dataset checksums
            # == the digest recomputed from every image byte
            assert recorded == incremental_digest(f) == content_digest(f) == verify_images(f)[0]
            digests.append(recorded)
    assert digests[0] == digests[1]
    with h5py.File(b, "a") as f:  # one display pixel changed: the unit and the set say so
        f["scenes/scene1/display"][0, 0, 0, 0] ^= 1
    with h5py.File(b, "r") as f:
        digest, changed = verify_images(f)
    assert digest != digests[1] and "/scenes/scene1" in changed and "/scenes/scene1/display" in changed


KILLED = """
import os, signal, sys
from stimuli import StoreWriter
from stimuli.testing import synthetic_metamer, synthetic_scene
w = StoreWriter(sys.argv[1], config_text="synthetic = true\\n")
scene = synthetic_scene("scene0", seed=0, n_renders=4)
for k in range(3):
    w.add_metamer(synthetic_metamer(scene, f"scene0-k{k}", "toy", 0.1, seed=k, n_renders=4))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_readers_refuse_an_unpacked_set_and_mrd_pack_packs_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "set.h5"
    write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=2)
    proc = subprocess.run([sys.executable, "-c", KILLED, str(path)], env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == -9 and len(unit_files(journal_dir(path))) == 3
    with pytest.raises(MRDError, match=rf"set.h5: the set is not packed: 3 finished units wait in set.h5.journal/.*"
                                       rf"`mrd pack {path}`"):
        StimulusSet(path)
    with StimulusSet(path, allow_pending=True) as s:  # the last pack, read as it is
        assert s.pending == 3 and len(s.metamer_ids) == 2
    assert main(["inspect", str(path), "--validate"]) == 0
    assert f"valid (as of its last pack; 3 finished units wait in the journal: `mrd pack {path}`)" in \
        capsys.readouterr().out
    assert main(["inspect", str(path)]) == 0
    assert "3 finished units wait in the journal and are not shown" in capsys.readouterr().out
    assert main(["pack", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: packed 3 journal units"
    with StimulusSet(path) as s:
        assert len(s.metamer_ids) == 5 and s.verify_images() == s.digest
    assert validate_store(path) == [] and sorted(os.listdir(tmp_path)) == ["set.h5"]
    assert main(["pack", str(path)]) == 0 and "already packed" in capsys.readouterr().out
    assert main(["pack", str(tmp_path / "absent.h5")]) == 2
    assert "absent.h5: no such stimulus set" in capsys.readouterr().err


def test_units_a_kill_left_after_the_pack_rename_are_dropped_without_packing_again(tmp_path: Path) -> None:
    path = tmp_path / "set.h5"
    ids = write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=2)
    saved = tmp_path / "saved"
    with StimulusSet(path) as s:
        sim = s.metamer(ids[0]).similarity["toy"]
    with StoreWriter(path) as w:
        w.add_model(synthetic_model("other"))
        w.add_similarity(ids[0], "other", sim)
        w.add_metamer(synthetic_metamer(synthetic_scene("scene0", n_renders=4), "scene0-z", "toy", 0.3, n_renders=4))
        shutil.copytree(journal_dir(path), saved)  # the unit files as they were when the pack renamed
    for unit in saved.iterdir():  # = a kill after the rename, before the unit files were deleted
        journal_dir(path).mkdir(exist_ok=True)
        shutil.copy(unit, journal_dir(path) / unit.name)
    packed = _fingerprint(path)
    StoreWriter(path).close()
    assert _fingerprint(path) == packed  # nothing packed again: the store file is the same file
    assert not journal_dir(path).exists() and validate_store(path) == []


def test_a_new_unit_kind_is_a_table_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS, "tryout", UnitKind("tryout", "tryouts", 9, ("display",)))
    path = tmp_path / "set.h5"
    write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=1)
    with StimulusSet(path) as s:
        before = s.digest
    image = np.full((2, 8, 8, 3), 7, np.uint8)

    def fill(g: h5py.Group) -> None:
        g.attrs["note"] = "a unit of a kind the suite does not ship"
        g.create_dataset("display", data=image).attrs["sha256"] = array_sha256(image)
        stamp_tree(g)

    with StoreWriter(path) as w:
        w.write_unit("tryout", "t0", fill)
        assert w.has_unit("tryout", "t0")
    with h5py.File(path, "r") as f:
        assert f["tryouts/t0"].attrs["note"] == "a unit of a kind the suite does not ship"
        assert str(f.attrs["content_digest"]) == content_digest(f) == verify_images(f)[0] != before
    assert validate_store(path) == []
