"""Ids match exactly (no trailing newline), export never writes an unsafe name, seeds fit int64."""

from __future__ import annotations

import os

import h5py
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stimuli import MRDError, StoreWriter
from stimuli.export import export_pngs
from stimuli.schema import check_id, check_seed
from stimuli.testing import synthetic_metamer, synthetic_model, synthetic_scene, write_synthetic_store


@pytest.mark.parametrize("bad", ["scene\n", "scene\r\n", "\nscene", "sc ene", "a/b", "../x", "", "_a", "x" * 129,
                                 "é", "a\x00b", "a\tb"])
def test_invalid_ids_are_refused(bad: str) -> None:
    with pytest.raises(MRDError, match="is not valid"):
        check_id(bad, "scene id")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=140))
def test_an_accepted_id_is_a_safe_single_file_name(value: str) -> None:
    try:
        check_id(value, "id")
    except MRDError:
        return
    assert value == os.path.basename(value) and value not in (".", "..")
    assert all(c.isascii() and (c.isalnum() or c in "_.-") for c in value) and len(value) <= 128


def test_writer_refuses_an_id_with_a_trailing_newline(tmp_path) -> None:
    with StoreWriter(tmp_path / "s.h5", config_text="a = 1\n") as w:
        w.add_model(synthetic_model())
        with pytest.raises(MRDError, match=r"scene id 's0\\n' is not valid"):
            w.add_scene(synthetic_scene("s0\n"))
        w.add_scene(synthetic_scene("s0"))
        with pytest.raises(MRDError, match="metamer id"):
            w.add_metamer(synthetic_metamer(synthetic_scene("s0"), "m0\n", "toy", 0.1))


def test_export_refuses_a_store_holding_a_newline_id(tmp_path) -> None:
    path = tmp_path / "s.h5"
    write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=1, n_renders=0)
    with h5py.File(path, "a") as f:  # as another tool (or an old suite) might have written it
        f["metamers"].move("scene0-m0", "scene0-m0\n")
    out = tmp_path / "png"
    with pytest.raises(MRDError, match=r"metamer id 'scene0-m0\\n' is not valid.*refusing to export"):
        export_pngs(path, out)
    assert not out.exists()


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**70, True, 1.0, "3"])
def test_seeds_outside_int64_are_refused(value, tmp_path) -> None:
    with pytest.raises(MRDError, match="seed"):
        check_seed(value, "seed")
    scene = synthetic_scene("s0")
    met = synthetic_metamer(scene, "m0", "toy", 0.1)
    met.seed = value
    with StoreWriter(tmp_path / "s.h5", config_text="a = 1\n") as w:
        w.add_model(synthetic_model())
        w.add_scene(scene)
        with pytest.raises(MRDError, match="metamer 'm0': seed"):
            w.add_metamer(met)
    assert check_seed(2**63 - 1, "seed") == 2**63 - 1 and check_seed(-(2**63), "seed") == -(2**63)
