"""Stimulus-set configs: the shipped ones load; bad ones fail naming file, field, value and what is valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from mrd.config import load_config, parse_config
from stimuli.errors import MRDError

SETS = Path(__file__).parents[2] / "stimuli" / "sets"

MINIMAL = """
[[models]]
name = "mobilenetv2_100"
layers = ["blocks.2"]

[[scenes]]
id = "ball"

[[metamers]]
groups = ["material"]
"""


def test_shipped_configs_load():
    demo, text = load_config(SETS / "demo.toml")
    assert text.startswith("#") and demo.render.size == (64, 64)
    assert sorted({j.group for j in demo.jobs()}) == ["material", "shape"] and len(demo.jobs()) == 4
    assert {m.model_id for m in demo.models} == {"mobilenetv2_100"}
    pilot, _ = load_config(SETS / "pilot.toml")
    assert pilot.render.size == (256, 256) and pilot.render.views >= 4 and len(pilot.models) >= 2
    assert {j.group for j in pilot.jobs()} == {"shape", "material", "lighting"}
    shape_jobs = [j for j in pilot.jobs() if j.group == "shape"]
    assert all(j.start is not None and j.start.shape.kind == "icosphere" for j in shape_jobs)
    true, _ = load_config(SETS / "demo_true.toml")
    assert true.scenes == demo.scenes and true.models == demo.models and true.render.spp == demo.render.spp
    assert true.optimize.mode == "experiment" and true.optimize.spp_final > true.render.spp
    assert {j.group for j in true.jobs()} == {"material"}


def test_jobs_are_the_cross_product_without_duplicates():
    cfg = parse_config(
        MINIMAL.replace('groups = ["material"]', 'groups = ["material", "lighting"]\nseeds = [0, 3]')
        + '\n[[metamers]]\ngroups = ["material"]\n'
    )
    ids = [j.metamer_id for j in cfg.jobs()]
    assert ids == [
        "ball.material.mobilenetv2_100.s0",
        "ball.material.mobilenetv2_100.s3",
        "ball.lighting.mobilenetv2_100.s0",
        "ball.lighting.mobilenetv2_100.s3",
    ]
    assert cfg.jobs()[0].start is None


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (
            ("[[scenes]]", "[render]\nspp = 0\n[[scenes]]"),
            ["bad.toml", "field 'render.spp' = 0", ">= 1 and <= 4096"],
        ),
        (
            ("[[scenes]]", "[render]\nlayout = 'spiral'\n[[scenes]]"),
            ["'render.layout' = 'spiral'", "'ring' or 'fibonacci'"],
        ),
        (("[[scenes]]", "[render]\nviews = true\n[[scenes]]"), ["field 'render.views' = True", "a boolean is not a number"]),
        (
            ('groups = ["material"]', 'groups = ["material"]\nseeds = [true]'),
            ["field 'metamers[0].seeds[0]' = True", "a boolean is not a number"],
        ),
        (
            ('id = "ball"', 'id = "ball"\nlighting = { light_intensity = [inf, 1.0, 1.0] }'),
            ["field 'scenes[0].lighting.light_intensity[0]' = inf", "finite number"],
        ),
        (
            ('id = "ball"', 'id = "ball"\nlighting = { light_intensity = [9223372036854775807, 1.0, 1.0] }'),
            ["light_intensity[0]", "<= 1e+06"],
        ),
        (("[[scenes]]", "[optimize.lr]\nshape = inf\n[[scenes]]"), ["field 'optimize.lr.shape' = inf", "finite"]),
        (
            ("[[scenes]]", "[optimize]\nlargesteps_lambda = 1e-9\n[[scenes]]"),
            ["field 'optimize.largesteps_lambda' = 1e-09", ">= 0.1"],
        ),
        (
            ('groups = ["material"]', 'groups = ["material"]\nseeds = [1180591620717411303424]'),
            ["metamers[0].seeds[0]", "<= 9.22337e+18"],
        ),
        (("[[scenes]]", "[optimize]\nstpes = 5\n[[scenes]]"), ["field 'optimize.stpes'", "unknown field"]),
        (
            ('groups = ["material"]', 'groups = ["colour"]'),
            ["field 'metamers[0].groups' = ['colour']", "unknown parameter groups ['colour']", "'shape'"],
        ),
        (
            ('groups = ["material"]', 'groups = ["material"]\nscenes = ["cube"]'),
            ["metamers[0].scenes: unknown ['cube']; known: ['ball']"],
        ),
        (
            ('id = "ball"', 'id = "ball"\nmaterial = { roughness = 1.5 }'),
            ["field 'scenes[0].material.roughness' = 1.5", ">= 0 and <= 1"],
        ),
        (('id = "ball"', 'id = "bad id"'), ["field 'scenes[0].id' = 'bad id'", "letters, digits"]),
        (('id = "ball"', 'id = "ball\\n"'), ["field 'scenes[0].id' = 'ball\\n'", "letters, digits"]),
        (
            ('id = "ball"', 'id = "ball"\nshape = { kind = "harmonic", degree = 2, coefficients = [0.1] }'),
            ["coefficients has 1 values; degree 2 needs 8"],
        ),
        (
            ('id = "ball"', 'id = "ball"\nshape = { kind = "file", path = "mesh.stl" }'),
            ["must end in .ply or .obj"],
        ),
        (
            ("[[scenes]]", "[prior.material]\nroughness = [0.9, 0.1]\n[[scenes]]"),
            ["field 'prior.material.roughness' = [0.9, 0.1]", "low <= high"],
        ),
        (('layers = ["blocks.2"]', "layers = []"), ["field 'models[0].layers' = []", "at least one layer"]),
        (("[[scenes]]\nid", "[[scenes]]\nid = 'ball'\n[[scenes]]\nid"), ["duplicate scene ids ['ball']"]),
        (
            ("[[scenes]]", "[optimize]\nsuccess_margin = 0.03\n[[scenes]]"),
            ["field 'optimize'", "success_margin = 0.03 was replaced by success_fraction", "noise ceiling"],
        ),
    ],
)
def test_bad_configs_name_file_field_value_and_what_is_valid(patch, expected):
    text = MINIMAL.replace(*patch)
    with pytest.raises(MRDError) as err:
        parse_config(text, "bad.toml")
    msg = str(err.value)
    for part in expected:
        assert part in msg, msg


def test_missing_sections_and_syntax_errors():
    with pytest.raises(MRDError, match=r"field 'models': required but missing"):
        parse_config("[[scenes]]\nid = 'a'\n[[metamers]]\n", "x.toml")
    with pytest.raises(MRDError, match=r"x.toml: not valid TOML: .*line 1"):
        parse_config("seed = = 1", "x.toml")
    with pytest.raises(MRDError, match="config file not found"):
        load_config("/nonexistent/set.toml")


def test_explicit_starts_are_validated(tmp_path):
    ok = MINIMAL + "[metamers.start.material]\nbase_color = [0.1, 0.2, 0.9]\n"
    job = parse_config(ok).jobs()[0]
    assert job.start.material == {"base_color": [0.1, 0.2, 0.9]}
    with pytest.raises(MRDError, match=r"metamers\[0\]\.start\..*material"):
        parse_config(MINIMAL + "[metamers.start.material]\nbase_color = [2.0, 0.2, 0.9]\n", "s.toml")
    with pytest.raises(MRDError, match="allowed: radiance, sky, ground, light_intensity"):
        parse_config(MINIMAL + "[metamers.start.lighting]\nlight = 'area'\n", "s.toml")
    cfg_file = tmp_path / "rel.toml"
    cfg_file.write_text(
        MINIMAL.replace('id = "ball"', 'id = "ball"\nshape = { kind = "file", path = "m.obj" }')
    )
    cfg, _ = load_config(cfg_file)
    assert cfg.resolve(cfg.scenes[0].shape.path) == tmp_path / "m.obj"
