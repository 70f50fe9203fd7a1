"""Size limits around ``mrd inspect`` (issue 14): the writer refuses a config text over
``MAX_CONFIG_BYTES`` with a clear error and leaves no file; a store holding a near-cap config is
summarised without the config text; a field of a store made by another tool that is too long to show
is cut short with a note (JSON and text). Speed and memory are measured in the issue's closing note,
not here."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest

from mrd.cli import main
from stimuli.errors import MRDError
from stimuli.summary import MAX_SHOWN_CHARS, MAX_SHOWN_ITEMS, summarize
from stimuli.testing import write_synthetic_store
from stimuli.writer import MAX_CONFIG_BYTES, StoreWriter


def test_a_config_text_over_the_cap_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "set.h5"
    with pytest.raises(MRDError) as err:
        StoreWriter(path, config_text="#" * (MAX_CONFIG_BYTES + 1))
    assert str(path) in str(err.value) and "config text is 4.0 MiB" in str(err.value) and "at most 4.0 MiB" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_a_near_cap_config_is_stored_but_not_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "near.h5"
    text = "# " + "x" * (MAX_CONFIG_BYTES - 100) + "\ntitle = 'near'\n"
    write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=1, config_text=text)
    with h5py.File(path, "r") as f:
        assert len(f.attrs["config_text"]) == len(text)
    assert main(["inspect", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out)
    assert summary["n_metamers"] == 1 and summary["truncated"] == [] and len(out) < 20_000
    assert "xxxxxxxxxx" not in out


def test_fields_too_long_to_show_are_truncated_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "foreign.h5"
    write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=1)
    with h5py.File(path, "r+") as f:  # as another tool might have written it
        model = f["models"][sorted(f["models"])[0]]
        model.attrs["name"] = "n" * (1 << 20)
        model.attrs["layers"] = json.dumps([f"l{i}" for i in range(5000)])
    s = summarize(path)
    name, layers = s["models"][0]["name"], s["models"][0]["layers"]
    assert len(name) < MAX_SHOWN_CHARS and name.endswith(f"[{1 << 20} characters]")
    assert len(layers) == MAX_SHOWN_ITEMS
    assert s["truncated"] == [f"models[0].name: {1 << 20} characters, shown truncated to 200",
                              f"models[0].layers: 5000 entries, the first {MAX_SHOWN_ITEMS} shown"]  # fmt: skip
    assert main(["inspect", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    assert len(out) < 40_000 and json.loads(out)["truncated"] == s["truncated"]
    assert main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"note: models[0].name: {1 << 20} characters, shown truncated to 200" in text and len(text) < 40_000
