"""Physical eigendistortions and MAD competition on the real renderer (llvm_ad_rgb) and real models.

Truths checked: the luminance-only test network's Fisher information in base colour has its null
space in the iso-luminant plane (Rec. 709 weights) and its top direction along luminance; every
eigenvalue equals the finite-difference quadratic form ``||f(z + h v) - f(z - h v)||^2 / (2h)^2``
(common random numbers) to 2 %; matrix-free Lanczos reproduces the exact decomposition; MAD search
holds model B's distance within 5 % of its start while model A's grows at least 3x.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from mrd.config import LightingSpec, MaterialSpec, RenderSettings, SceneSpec
from mrd.groups import renderer_for, target_params
from mrd.groups.material import MaterialParam
from mrd.models import ModelSpec, load_model
from mrd.probes.eigen import luminance_change
from mrd.probes.fisher import exact_fisher, fd_eigenvalue, lanczos
from mrd.probes.steps import equal_steps
from mrd.render.variant import use_variant
from mrd.synthesis.target import layout_for
from stimuli.errors import MRDError

use_variant("llvm_ad_rgb")

# These tests run in a fresh interpreter (tests/mrd/test_probes_isolated.py). Measured 2026-12-02 on a
# fresh clone: after ~200 earlier tests in one process, forward mode through PRB failed with Dr.Jit's
# "ad_traverse(): tried to forward-propagate derivatives across edge ... outside of the current
# dr.isolate_grad() scope" and the MAD backward pass then aborted the interpreter; alone they pass.
# `mrd probe` runs in its own process. Open (issue 17's closing note): which earlier state leaks.
pytestmark = pytest.mark.skipif(
    os.environ.get("MRD_PROBES_ISOLATED") != "1",
    reason="run in a fresh process by test_probes_isolated.py (set MRD_PROBES_ISOLATED=1 to run directly)",
)

from mrd.probes.mad import ModelDistance, maximal_differentiation  # noqa: E402
from mrd.probes.operator import ActivationMap, LatentCodec  # noqa: E402

WHITE = LightingSpec(environment="constant", radiance=[0.5, 0.5, 0.5], light="point", light_intensity=[15.0] * 3)
BASE = [0.6, 0.35, 0.25]


@pytest.fixture(scope="module")
def scene():
    spec = SceneSpec(id="t", material=MaterialSpec(base_color=BASE), lighting=WHITE)
    p = target_params(spec)
    return p, renderer_for(layout_for(spec, RenderSettings(resolution=32, views=2, max_depth=2)), p)


@pytest.fixture(scope="module")
def luminance():
    return load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))


@pytest.fixture(scope="module")
def pixels():
    return load_model(ModelSpec(name="pixels_32", layers=["pixels"]))


def test_luminance_network_is_blind_to_isoluminant_base_colour(scene, luminance):
    p, ren = scene
    op = ActivationMap(ren, MaterialParam(p["material"], ["base_color"]), luminance, spp=64, seeds=[0, 1])
    eig = exact_fisher(op)
    lam_max, most = eig.most()
    lam_min, least = eig.least()
    assert lam_max > 0 and lam_min <= 1e-9 * lam_max  # rank 1 under white light: a 2-d null space
    c = p["material"]["base_color"]
    dc_most, dc_least = c * (1 - c) * most, c * (1 - c) * least  # the logistic's Jacobian
    w = np.array([0.2126, 0.7152, 0.0722])
    assert abs(w @ dc_least) / np.linalg.norm(dc_least) < 1e-3  # iso-luminant (Rec. 709)
    assert abs(w @ dc_most) / np.linalg.norm(dc_most) > 0.7  # close to the luma direction (norm 0.755)
    # the top eigenvalue is the finite-difference quadratic form
    fd = fd_eigenvalue(op, most, 1e-2)
    assert abs(fd - lam_max) < 0.02 * lam_max, (fd, lam_max)
    # steps of equal physical size: the least direction changes colour, not luminance
    op.restore()
    steps = equal_steps("material", op.values, op.z0, least, 0.08, 1, signs=(1,))
    assert abs(steps[0]["distance"] - 0.08) < 1e-3
    assert luminance_change(steps[0]["values"], p["material"]) < 0.01  # first order exact; the logistic bends it
    lum0 = op.features(op.z0)
    lum_least, lum_most = op.features(steps[0]["z"]), op.features(op.z0 + np.abs(steps[0]["t"]) * most)
    assert np.abs(lum_least - lum0).max() < 0.02 * np.abs(lum_most - lum0).max()
    op.restore()


def test_every_eigenvalue_matches_finite_differences_and_lanczos(scene, pixels):
    p, ren = scene
    # base colour only: specular and roughness also steer the BSDF's sampling, so a fixed-seed finite
    # difference of them carries extra Monte Carlo noise (measured: 12 % at 64 spp x 2 seeds, 1.3 % at 128 x 4)
    op = ActivationMap(ren, MaterialParam(p["material"], ["base_color"]), pixels, spp=64, seeds=[3, 4])
    eig = exact_fisher(op)
    assert eig.eigenvalues.shape == (3,) and eig.eigenvalues[-1] > 0  # pixels see every direction
    for i, lam in enumerate(eig.eigenvalues):
        fd = fd_eigenvalue(op, eig.vectors[:, i], 1e-2)
        assert abs(fd - lam) < 0.02 * lam, (i, fd, lam)
    lz = lanczos(op.fisher, op.n, iterations=op.n, rng=0)  # matrix-free: JVP then VJP
    assert np.allclose(lz.eigenvalues, eig.eigenvalues, rtol=1e-3)
    assert np.allclose(np.abs(np.sum(lz.vectors * eig.vectors, axis=0)), 1.0, atol=1e-3)
    op.restore()


def test_mad_holds_one_model_and_pushes_the_other(luminance, pixels):
    spec = SceneSpec(id="m", material=MaterialSpec(base_color=BASE))
    p = target_params(spec)
    ren = renderer_for(layout_for(spec, RenderSettings(resolution=32, views=1, max_depth=2)), p)
    param = MaterialParam(p["material"], ["base_color"])
    codec = LatentCodec(param)
    d = {"lum": ModelDistance(ren, param, luminance, spp=16, seeds=[5]),
         "pix": ModelDistance(ren, param, pixels, spp=16, seeds=[5])}  # fmt: skip
    assert d["lum"].value(codec.z0) == 0.0  # common random numbers: the target is at distance 0
    rng = np.random.default_rng(0)
    start = equal_steps("material", lambda z: param.values(codec.latents(z)), codec.z0,
                        rng.standard_normal(codec.n), 0.05, 1, signs=(1,))[0]["z"]  # fmt: skip
    for a, b in (("pix", "lum"), ("lum", "pix")):
        up = maximal_differentiation(d[a], d[b], start, direction=1, steps=12, lr=0.3, hold=0.05)
        assert up.hold_error <= 0.05 and up.growth >= 3.0, (a, b, up.hold_error, up.growth)
        # re-measured independently of the search's bookkeeping
        assert abs(d[b].value(up.z) / d[b].value(start) - 1) <= 0.05
        assert d[a].value(up.z) >= 3.0 * d[a].value(start)
    down = maximal_differentiation(d["pix"], d["lum"], start, direction=-1, steps=6, lr=0.3)
    assert down.hold_error <= 0.05 and down.growth < 0.5


def test_lanczos_finds_both_ends_of_a_known_spectrum():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    vals = np.concatenate([[50.0, 20.0], np.linspace(1.0, 2.0, 196), [1e-3, 0.0]])
    a = (q * vals) @ q.T
    e = lanczos(lambda v: a @ v, 200, iterations=60, rng=2)
    assert np.allclose(e.eigenvalues[:2], [50.0, 20.0], rtol=1e-8)
    assert abs(e.least()[0]) < 1e-6 and abs(abs(e.least()[1] @ q[:, -1]) - 1) < 1e-6


def test_probe_config_errors_name_file_field_and_value(tmp_path):
    from pathlib import Path

    from mrd.cli import main
    from mrd.probes.config import parse_probe_config

    good = Path("stimuli/sets/probe_mad.toml").read_text()
    assert parse_probe_config(good, "m.toml").probe.mad.pairs == [["pixels_32", "luminance"]]
    cases = [
        ("swap = true", "swap = 1", "field 'probe.mad.swap' = 1: give true or false"),
        ("hold = 0.05", "hold = nan", "field 'probe.mad.hold' = nan"),
        ('pairs = [["pixels_32", "luminance"]]', 'pairs = [["pixels_32", "resnet"]]', "unknown model ids ['resnet']"),
        ("steps = 12", "steps = 0", "field 'probe.mad.steps' = 0"),
        ("steps = 12", "stepz = 12", "field 'probe.mad.stepz' = 12: unknown field"),
        # what a probe config shares with a set config is checked the same way (SceneSet)
        ('id = "ball"', 'id = "ball"\n[[scenes]]\nid = "ball"', "duplicate scene ids ['ball']"),
    ]
    for old, new, message in cases:
        assert old in good
        with pytest.raises(MRDError, match="m.toml") as err:
            parse_probe_config(good.replace(old, new), "m.toml")
        assert message in str(err.value), str(err.value)
    bad = tmp_path / "bad.toml"
    bad.write_text(good.replace("swap = true", "swap = 1"))
    assert main(["probe", "mad", str(bad), "--out", str(tmp_path / "x.h5"), "--quiet"]) == 2
    assert not (tmp_path / "x.h5").exists()
    assert main(["probe", "eigen", "stimuli/sets/probe_mad.toml", "--out", str(tmp_path / "y.h5"), "--quiet"]) == 2
