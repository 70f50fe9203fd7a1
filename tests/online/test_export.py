"""``mrd export-online``: what a bundle holds, checked against the lab's plan and images."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from psychophysics.config import load_config
from psychophysics.design import Trial
from psychophysics.images import TrialImages
from psychophysics.online.bundle import (
    export_bundle,
    parse_participants,
    plan_path,
    read_data_file,
    read_manifest,
)
from stimuli import StimulusSet
from stimuli.errors import MRDError


def lab_plan(store_path: Path, config_path: Path, pid: str, folder: Path) -> dict:
    """The plan ``mrd experiment`` writes for this participant (its own preparation step)."""
    from psychophysics.preparation import prepare

    prep = prepare(store_path, pid, 1, config_path, folder, uses_psychopy=False)
    prep.store.close()
    return prep.files.read_plan()


def test_plans_are_the_lab_plans_and_images_the_lab_images(
    bundle: Path, store_path: Path, config_path: Path, tmp_path: Path
) -> None:
    manifest = read_manifest(bundle)
    cfg = load_config(config_path)
    with StimulusSet(store_path) as s:
        assert manifest["stimulus_digest"] == s.digest
        images = TrialImages(s)
        for pid in ("P01", "P05"):
            plan = read_data_file(plan_path(bundle, pid, 1))
            lab = lab_plan(store_path, config_path, pid, tmp_path / pid)
            assert {k: v for k, v in plan.items() if k not in ("keys", "keys_browser", "trials")} == {
                k: v for k, v in lab.items() if k != "trials"}
            assert [{k: v for k, v in t.items() if k != "images"} for t in plan["trials"]] == lab["trials"]
            for entry in plan["trials"]:
                shown = [np.asarray(Image.open(io.BytesIO((bundle / f).read_bytes())).convert("RGB"))
                         for f in entry["images"]]
                for got, want in zip(shown, images.arrays(Trial.from_dict(entry)), strict=True):
                    np.testing.assert_array_equal(got, want)  # lossless: the very pixels the lab shows
                assert len(set(entry["images"])) == 3  # three independent renders, no image twice
            order = lab.get("key_order", [1, 2, 3])
            assert plan["keys"]["position_1"] == list(getattr(cfg.keys, f"position_{order[0]}"))
    assert manifest["versions"]["jspsych"] == "8.3.0"


def test_the_page_loads_nothing_from_outside_the_bundle(bundle: Path) -> None:
    html = (bundle / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(not re.match(r"[a-z]+:", r) and not r.startswith("//") for r in refs)
    for r in refs:
        assert (bundle / r).is_file(), r
    for js in (bundle / "mrd").glob("*.js"):
        assert not re.search(r"https?://", js.read_text()), js


def test_refusals_name_the_problem(bundle: Path, store_path: Path, tmp_path: Path) -> None:
    with pytest.raises(MRDError, match="not an empty folder"):
        export_bundle(store_path, bundle, ["P01"], progress=False)
    with pytest.raises(MRDError, match="participant id '../x' is invalid"):
        parse_participants("P01,../x")
    with pytest.raises(MRDError, match="distinct"):
        parse_participants("P01,P01")
    with pytest.raises(MRDError, match="jsPsych is not installed"):
        export_bundle(store_path, tmp_path / "b1", ["P01"], node_modules=tmp_path / "none", progress=False)
    with pytest.raises(MRDError, match="failed validation"):
        export_bundle(tmp_path / "missing.h5", tmp_path / "b2", ["P01"], progress=False)
    with pytest.raises(MRDError, match="calibration"):
        export_bundle(store_path, tmp_path / "b3", ["P01"], calibration="ruler", progress=False)


def test_cli_writes_a_bundle(store_path: Path, config_path: Path, tmp_path: Path, need_jspsych: None,
                             capsys: pytest.CaptureFixture[str]) -> None:
    from mrd.cli import main

    out = tmp_path / "web"
    assert main(["export-online", str(store_path), "--config", str(config_path), "--out", str(out),
                 "--participants", "2", "--sessions", "1,2", "--endpoint", "none"]) == 0
    manifest = read_manifest(out)
    assert manifest["participants"] == {
        p: {"1": f"data/plans/sub-{p}_ses-1.js", "2": f"data/plans/sub-{p}_ses-2.js"} for p in ("web001", "web002")}
    assert manifest["endpoint"] is None and manifest["calibration"]["method"] == "chinrest"
    assert "4 planned sessions" in capsys.readouterr().out
    p1 = read_data_file(plan_path(out, "web001", 1))["trials"]
    p2 = read_data_file(plan_path(out, "web001", 2))["trials"]
    assert p1 != p2  # seeded per session too
