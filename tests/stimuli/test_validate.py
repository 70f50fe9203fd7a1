"""`mrd inspect --validate` names each corruption exactly."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from mrd.cli import main
from stimuli.schema import SCHEMA_VERSION
from stimuli.testing import write_synthetic_store
from stimuli.validate import validate_store


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    path = tmp_path_factory.mktemp("pristine") / "set.h5"
    write_synthetic_store(path)
    assert validate_store(path) == []
    return path


def _corrupt(f: h5py.File, how: str) -> None:
    m = f["metamers/scene0-m1"]
    if how == "missing dataset":
        del m["display"]
    elif how == "wrong dtype":
        data = m["display"][()].astype(np.float32)
        del m["display"]
        m.create_dataset("display", data=data)
    elif how == "wrong shape":
        data = m["hdr"][()][:, :8]
        del m["hdr"]
        m.create_dataset("hdr", data=data)
    elif how == "image changed":
        data = m["display"][()]
        data[0, 0, 0, 0] ^= 1
        m["display"][...] = data
    elif how == "unknown scene":
        m.attrs["scene_id"] = "ghost"
    elif how == "unknown model":
        m.attrs["model_id"] = "ghost"
    elif how == "bad group":
        m.attrs["group"] = "Texture!"
    elif how == "missing attribute":
        del m.attrs["success"]
    elif how == "bad json":
        m.attrs["layers"] = "[unclosed"
    elif how == "loss length":
        m.attrs["steps"] = 999
    elif how == "similarity shape":
        del m["similarity/toy/cosine"]
        m["similarity/toy"].create_dataset("cosine", data=np.ones((5, 2)))
    elif how == "similarity nan":
        m["similarity/toy/null_cosine"][0, 0] = np.nan
    elif how == "own similarity missing":
        del m["similarity/toy"]
    elif how == "config tampered":
        f.attrs["config_text"] = "synthetic = false\n"
    elif how == "root attribute missing":
        del f.attrs["created"]
    elif how == "group missing":
        del f["models"]
    elif how == "scene hdr missing":
        del f["scenes/scene1/hdr"]


EXPECTED = {
    "missing dataset": "/metamers/scene0-m1/display is missing",
    "wrong dtype": "/metamers/scene0-m1/display: dtype float32, expected uint8",
    "wrong shape": "/metamers/scene0-m1: display shape",
    "image changed": "content digest mismatch",
    "unknown scene": "scene_id 'ghost' is not in /scenes",
    "unknown model": "model_id 'ghost' is not in /models",
    "bad group": "group 'Texture!' is not a parameter-group name (shipped: shape, material, lighting)",
    "missing attribute": "/metamers/scene0-m1: attribute 'success' is missing",
    "bad json": "attribute 'layers' is not valid JSON",
    "loss length": "loss: length 10 differs from attribute steps=999",
    "similarity shape": "similarity/toy/cosine: 5 rows, expected one per view (2)",
    "similarity nan": "similarity/toy/null_cosine: contains non-finite values",
    "own similarity missing": "no entry for its own model 'toy'",
    "config tampered": "'config_sha256' does not match",
    "root attribute missing": "root attribute 'created' is missing",
    "group missing": "group '/models' is missing",
    "scene hdr missing": "/scenes/scene1/hdr is missing",
}


@pytest.mark.parametrize("how", sorted(EXPECTED))
def test_each_corruption_is_named(pristine, tmp_path, how, capsys):
    path = tmp_path / "set.h5"
    shutil.copy(pristine, path)
    with h5py.File(path, "a") as f:
        _corrupt(f, how)
    problems = validate_store(path)
    assert any(EXPECTED[how] in p for p in problems), problems
    assert all(str(path) in p for p in problems)
    assert main(["inspect", str(path), "--validate"]) == 1
    assert EXPECTED[how] in capsys.readouterr().err


def test_unknown_schema_truncated_and_foreign_files(pristine, tmp_path, capsys):
    v2 = tmp_path / "v2.h5"
    shutil.copy(pristine, v2)
    with h5py.File(v2, "a") as f:
        f.attrs["schema_version"] = "7.1"
    assert "schema_version '7.1' is not supported" in validate_store(v2)[0]
    cut = tmp_path / "cut.h5"
    cut.write_bytes(pristine.read_bytes()[: pristine.stat().st_size // 2])
    assert "not a readable HDF5 file" in validate_store(cut)[0]
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.create_dataset("x", data=[1])
    assert "'schema_version' is missing" in validate_store(foreign)[0]
    assert main(["inspect", str(tmp_path / "absent.h5"), "--validate"]) == 1
    assert "no such file" in capsys.readouterr().err


def test_inspect_text_json_and_export(pristine, tmp_path, capsys):
    assert main(["inspect", str(pristine), "--validate"]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["inspect", str(pristine)]) == 0
    text = capsys.readouterr().out
    assert "scene0-m1" in text and "content digest" in text
    assert main(["inspect", str(pristine), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["schema_version"] == SCHEMA_VERSION and len(summary["content_digest"]) == 64
    assert {m["id"] for m in summary["metamers"]} == {f"scene{s}-m{k}" for s in range(2) for k in range(3)}
    first = summary["metamers"][0]
    assert {"id", "scene", "model", "group", "success", "similarity"} <= set(first)
    assert 0 < first["similarity"]["toy"]["cosine"] <= 1
    out = tmp_path / "png"
    assert main(["export", str(pristine), str(out)]) == 0
    rows = (out / "manifest.csv").read_text().strip().splitlines()
    assert rows[0].startswith("file,kind,id")
    assert len(rows) - 1 == 2 * 2 + 6 * 2  # scenes x views + metamers x views
    from PIL import Image

    img = np.asarray(Image.open(out / "metamers" / "scene0-m1_v0.png"))
    from stimuli import StimulusSet

    with StimulusSet(pristine) as s:
        assert np.array_equal(img, s.metamer_display("scene0-m1")[0])


def test_contact_sheet_is_drawn_and_not_blank(pristine, tmp_path):
    from PIL import Image

    out = tmp_path / "sheet.png"
    assert main(["inspect", str(pristine), "--sheet", str(out)]) == 0
    img = np.asarray(Image.open(out).convert("RGB")).astype(float)
    assert img.shape[0] > 600 and img.std() > 20  # six rows of pictures, not a blank canvas
