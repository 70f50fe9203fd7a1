"""The harmonic shape basis (``optimize.shape_basis = "harmonic"``, :mod:`mrd.groups.shape_harmonic`).

Independent truths: the demo's harmonic targets lie exactly in the family (a least-squares fit with zero
residual, not a claim); the basis's gradient equals the chain rule ``B' dL/dv`` applied to the real
renderer's vertex gradient (the vertex gradient itself is checked against finite differences in
``test_render.py`` / ``test_projective.py``); a real optimisation stays in the family and records it.
"""

from __future__ import annotations

import numpy as np
import pytest

from mrd.groups.shape import ShapeSpec, mesh_from_spec, shape_values
from mrd.groups.shape_harmonic import HarmonicShapeParam, start_fit
from mrd.render import meshes


def test_the_demo_and_pilot_targets_lie_in_the_family_of_their_degree():
    for seed in (1, 7):  # the two scenes of stimuli/sets/demo_true.toml
        v = mesh_from_spec(ShapeSpec(kind="harmonic", seed=seed, amplitude=0.3, subdivisions=3)).vertices
        *_, res, source = start_fit(v, 3, 3)
        assert source == "icosphere" and res < 1e-5, (seed, res)
        # a lower degree cannot represent a degree-3 draw: the fit says so
        assert start_fit(v, 2, 3)[-2] > 1e-3
    # the pilot's blob: degree 4 on a level-4 icosphere, exact at degree 4 and not at 3
    pilot = mesh_from_spec(ShapeSpec(kind="harmonic", seed=11, degree=4, amplitude=0.3, subdivisions=4)).vertices
    assert start_fit(pilot, 4, 4)[-2] < 1e-5 and start_fit(pilot, 3, 4)[-2] > 1e-3


def test_values_reproduce_the_start_and_a_foreign_start_is_projected():
    from mrd.render.variant import use_variant

    use_variant("llvm_ad_rgb")
    start = shape_values(meshes.harmonic(np.random.default_rng(3).uniform(-0.1, 0.1, 15), subdivisions=3))
    p = HarmonicShapeParam(start, degree=3, subdivisions=3)
    np.testing.assert_allclose(p.values(p.init())["vertices"], start["vertices"], atol=2e-6)
    assert p.fit_residual < 1e-5 and p.info()["harmonic_latents"] == 16 + 3
    from mrd.groups.shape import KEYS
    from mrd.groups.shape_harmonic import VERTICES_KEY

    assert KEYS["vertices"] == VERTICES_KEY
    cube = shape_values(meshes.superquadric(0.3, (1, 1, 1), subdivisions=3))  # not a degree-3 radial surface
    q = HarmonicShapeParam(cube, degree=3, subdivisions=3)
    assert q.fit_residual > 0.01
    err = np.linalg.norm(q.values(q.init())["vertices"] - cube["vertices"], axis=1)
    assert np.sqrt(np.mean(err**2)) == pytest.approx(q.fit_residual * np.linalg.norm(cube["vertices"]
                                                     - cube["vertices"].mean(0), axis=1).max(), rel=1e-3)  # fmt: skip


def test_the_gradient_is_the_chain_rule_of_the_vertex_gradient():
    from mrd.render.variant import use_variant

    use_variant("llvm_ad_rgb")
    import drjit as dr
    import mitsuba as mi

    from mrd.config import LightingSpec, MaterialSpec, RenderSettings, SceneSpec
    from mrd.groups import renderer_for, target_params
    from mrd.groups.shape import KEYS
    from mrd.groups.shape_harmonic import harmonic_basis
    from mrd.synthesis.target import layout_for

    spec = SceneSpec(id="h", shape=ShapeSpec(kind="harmonic", seed=2, amplitude=0.3, subdivisions=3, scale=0.9),
                     material=MaterialSpec(base_color=[0.5, 0.3, 0.2]),
                     lighting=LightingSpec(environment="constant", radiance=[1, 1, 1]))  # fmt: skip
    r = renderer_for(layout_for(spec, RenderSettings(resolution=32, views=2)), target_params(spec))
    start = target_params(spec)["shape"]
    p = HarmonicShapeParam(start, degree=3, subdivisions=3)

    def loss(images):  # views weighted differently, so that no component vanishes by symmetry
        return sum(dr.mean(img, axis=None) * (k + 1) for k, img in enumerate(images))

    lat = p.init()
    for x in lat.values():
        dr.enable_grad(x)
    p.apply(lat, r)
    r.update()
    dr.backward(loss(r.render_views(16, 5, "projective")))
    ga, gt = np.asarray(dr.grad(lat["a"])), np.asarray(dr.grad(lat["t"]))

    v = mi.Float(start["vertices"].ravel())
    dr.enable_grad(v)
    r.write(KEYS["vertices"], v)
    r.update()
    dr.backward(loss(r.render_views(16, 5, "projective")))
    gv = np.asarray(dr.grad(v), np.float64).reshape(-1, 3)

    basis, d = harmonic_basis(meshes.icosphere(3).vertices, 3)
    expect_a = np.einsum("nk,nc,nc->k", basis, d, gv)
    expect_t = gv.sum(axis=0)
    assert np.abs(ga).max() > 0
    np.testing.assert_allclose(ga, expect_a, rtol=2e-3, atol=2e-3 * np.abs(expect_a).max())
    np.testing.assert_allclose(gt, expect_t, rtol=2e-3, atol=2e-3 * np.abs(expect_t).max())


CONFIG = """
seed = 0
[render]
resolution = 16
views = 1
spp = 4
display_spp = 16
display_renders = 4
max_depth = 2
[optimize]
steps = 12
target_renders = 2
shape_basis = "harmonic"
stop_on_success = false
[optimize.lr]
shape = 0.02
[null]
draws = 3
[[models]]
id = "luminance"
name = "mrd.models.testing:mean_luminance"
layers = ["luminance"]
[[scenes]]
id = "ball"
[[metamers]]
groups = ["shape"]
seeds = [4]
"""


def test_an_optimisation_stays_in_the_family_and_the_store_records_the_basis(tmp_path):
    from mrd.synthesis.generate import generate
    from stimuli import StimulusSet, validate_store

    (tmp_path / "h.toml").write_text(CONFIG)
    generate(tmp_path / "h.toml", tmp_path / "h.h5", variant="llvm_ad_rgb", progress=False)
    assert validate_store(tmp_path / "h.h5") == []
    with StimulusSet(tmp_path / "h.h5") as s:
        (mid,) = s.metamer_ids
        m = s.metamer(mid, images=False)
    assert m.info["shape_basis"] == "harmonic" and m.info["harmonic_directions"] == "icosphere"
    assert m.info["harmonic_latents"] == 19 and m.info["harmonic_fit_residual"] < 1e-5
    final, initial = m.final_params["shape"], m.initial_params["shape"]
    assert not np.allclose(final["vertices"], initial["vertices"])  # it moved
    assert start_fit(final["vertices"], 3, 3)[-2] < 1e-4  # and stayed a degree-3 radial surface
    np.testing.assert_array_equal(final["faces"], initial["faces"])


def test_a_config_asking_to_remesh_a_harmonic_shape_is_refused_naming_the_values():
    from pathlib import Path

    from mrd.config import parse_config
    from stimuli.errors import MRDError

    text = (Path(__file__).resolve().parents[2] / "stimuli/sets/demo_true.toml").read_text()
    text = text.replace("[optimize]\n", '[optimize]\nshape_basis = "harmonic"\nremesh_every = 50\n', 1)
    with pytest.raises(MRDError, match=r"(?s)h\.toml.*optimize.*shape_basis = 'harmonic'.*remesh_every = 50"):
        parse_config(text, "h.toml")
    ok = parse_config(text.replace("remesh_every = 50\n", ""), "h.toml")
    assert ok.optimize.shape_basis == "harmonic" and ok.optimize.shape_degree == 3
