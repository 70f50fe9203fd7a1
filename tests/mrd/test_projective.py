"""Shape gradients: the projective integrator's own sample counts (``optimize.sppc`` / ``sppp``)
reach Mitsuba, change what the backward pass computes and not the primal image, and the shipped
defaults still agree with finite differences and the closed-form silhouette derivative; the
``mrd`` command's OpenMP wait-policy default (and a user's own setting winning over it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mrd.config import LightingSpec, MaterialSpec, RenderSettings, SceneSpec, ShapeSpec, parse_config
from mrd.groups import target_params
from mrd.render.variant import use_variant
from mrd.synthesis.target import layout_for
from stimuli.errors import MRDError

use_variant("llvm_ad_rgb")

import drjit as dr  # noqa: E402
import mitsuba as mi  # noqa: E402

from mrd.groups import renderer_for  # noqa: E402
from mrd.groups.shape import KEYS  # noqa: E402
from mrd.render.scene import SHAPE_SPPC, SHAPE_SPPP  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from shape_displacement import displacement  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

LIT = SceneSpec(
    id="s",
    shape=ShapeSpec(kind="icosphere", subdivisions=3, scale=0.9),
    material=MaterialSpec(base_color=[0.3, 0.3, 0.3]),
    lighting=LightingSpec(environment="constant", radiance=[1, 1, 1]),
)
BLACK = SceneSpec(  # black sphere on a white background: every vertex gradient is a silhouette term
    id="k",
    shape=ShapeSpec(kind="icosphere", subdivisions=4, scale=0.8),
    material=MaterialSpec(base_color=[0, 0, 0], specular=0.0, roughness=1.0),
    lighting=LightingSpec(environment="constant", radiance=[1, 1, 1], light="none"),
)


def _renderer(spec, settings, **counts):
    return renderer_for(layout_for(spec, settings, **counts), target_params(spec))


def _grad(r, v0, spp, seed):
    """Primal image of view 0 and d(mean pixel of every view)/d(vertices)."""
    v = mi.Float(v0.ravel())
    dr.enable_grad(v)
    r.write(KEYS["vertices"], v)
    r.update()
    imgs = r.render_views(spp, seed, "projective")
    primal = np.asarray(dr.detach(imgs[0])).copy()
    dr.backward(sum(dr.mean(i, axis=None) for i in imgs))
    return primal, np.asarray(dr.grad(v)).copy()


def test_sample_counts_change_the_gradient_not_the_primal():
    """Same seed: one primal image whatever sppc/sppp; the gradient's spread over seeds falls with the
    count of the term that carries it (interior: sppc on a lit sphere; silhouette: sppp on a black one)."""
    small = RenderSettings(resolution=16, views=1, max_depth=2)
    v_lit = target_params(LIT)["shape"]["vertices"].astype(np.float32)
    lit = {c: _renderer(LIT, small, sppc=c, sppp=1) for c in (2, 32)}
    runs = {c: [_grad(r, v_lit, 4, s) for s in range(4)] for c, r in lit.items()}
    # the primal image is the same render: equal up to the order of LLVM's multithreaded sums (CI once
    # measured a non-bit-identical pair under load), and far closer than a render with another seed
    other_seed = np.abs(runs[2][0][0] - runs[2][1][0]).max()
    for s in range(4):
        same = np.abs(runs[2][s][0] - runs[32][s][0]).max()
        assert same <= 1e-5 and other_seed > 100 * max(same, 1e-7), (same, other_seed)
        assert not np.allclose(runs[2][s][1], runs[32][s][1])  # the backward pass is not
    spread = {c: np.var([g for _, g in rs], axis=0).sum() for c, rs in runs.items()}
    assert spread[32] < spread[2] / 4, spread  # 16x the samples: variance ~1/16

    v_blk = target_params(BLACK)["shape"]["vertices"].astype(np.float32)
    blk = {p: _renderer(BLACK, small, sppc=1, sppp=p) for p in (1, 16)}
    sil = {p: [_grad(r, v_blk, 4, s)[1] for s in range(4)] for p, r in blk.items()}
    spread = {p: np.var(gs, axis=0).sum() for p, gs in sil.items()}
    assert spread[16] < spread[1] / 4, spread
    # and the integrator really holds the configured counts
    assert (lit[32].integrators["projective"].sppc, blk[16].integrators["projective"].sppp) == (32, 16)


def test_default_counts_vertex_gradient_matches_finite_differences():
    """Vertices moved along their normals under the shipped sppc/sppp, full objective (as test_render.py:
    5 % of central finite differences with common random numbers)."""
    from mrd.models import ModelSpec, load_model
    from mrd.synthesis.objective import Objective

    model = load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))
    objective = Objective(model, {"luminance": torch.tensor([[0.9]])})
    p = target_params(LIT)
    r = renderer_for(layout_for(LIT, RenderSettings(resolution=32, views=2, max_depth=2)), p)
    assert (r.integrators["projective"].sppc, r.integrators["projective"].sppp) == (
        SHAPE_SPPC or None, SHAPE_SPPP or None)  # the defaults reach the integrator
    v0 = p["shape"]["vertices"].astype(np.float32)
    n = (v0 / np.linalg.norm(v0, axis=1, keepdims=True)).astype(np.float32)
    seeds, spp = range(8), 16
    ad = np.mean([displacement(r, v0, n, objective, 0.0, spp, s, grad=True) for s in seeds])
    fd = np.mean([(displacement(r, v0, n, objective, 0.01, spp, s) - displacement(r, v0, n, objective, -0.01, spp, s))
                  / 0.02 for s in seeds])  # fmt: skip
    assert ad > 0 and abs(ad - fd) < 0.05 * abs(fd), (ad, fd)


def test_default_counts_silhouette_gradient_matches_the_closed_form():
    """d(mean pixel)/d(radius) of a black sphere on white = -d(covered fraction)/dR, to 1 %."""
    settings = RenderSettings(resolution=32, views=1, distance=3.5, fov=35.0)
    p = target_params(BLACK)
    r = renderer_for(layout_for(BLACK, settings), p)
    v0 = p["shape"]["vertices"].astype(np.float32)
    n = (v0 / np.linalg.norm(v0, axis=1, keepdims=True)).astype(np.float32)
    ad = np.mean([displacement(r, v0, n, None, 0.0, 16, s, grad=True) for s in range(8)])
    d, half = settings.distance, np.tan(np.radians(settings.fov) / 2)

    def covered(radius: float) -> float:  # disc of radius tan(asin(R/d)) on a 2*tan(fov/2) square
        return np.pi * np.tan(np.arcsin(radius / d)) ** 2 / (2 * half) ** 2

    exact = -(covered(0.8 + 1e-6) - covered(0.8 - 1e-6)) / 2e-6
    assert abs(ad - exact) < 0.01 * abs(exact), (ad, exact)


MINIMAL = """
[[models]]
name = "mobilenetv2_100"
layers = ["blocks.2"]
weights = "random"
[[scenes]]
id = "ball"
[[metamers]]
groups = ["shape"]
"""


@pytest.mark.parametrize("field,value", [("sppc", -1), ("sppp", 5000), ("sppc", 2.5)])
def test_bad_sample_counts_name_the_field_and_the_range(field, value):
    with pytest.raises(MRDError) as err:
        parse_config(f"[optimize]\n{field} = {value}\n" + MINIMAL, "bad.toml")
    msg = str(err.value)
    assert "bad.toml" in msg and f"optimize.{field}" in msg and str(value) in msg, msg
    cfg = parse_config(f"[optimize]\n{field} = 8\n" + MINIMAL, "ok.toml")
    assert getattr(cfg.optimize, field) == 8


def _libgomp_settings(env: dict[str, str]) -> str:
    """libgomp's own report of its wait policy and spin count in a process that starts as `mrd` does."""
    code = "from mrd.cli import main; import torch; torch.ones(8).sum()"  # the console script imports mrd.cli
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_DISPLAY_ENV": "VERBOSE"}, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return "\n".join(x.strip() for x in out.stderr.splitlines() if "OMP_WAIT_POLICY" in x or "GOMP_SPINCOUNT" in x)


def test_mrd_sets_a_passive_wait_policy_unless_the_user_chose_one():
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    passive = _libgomp_settings(base)
    assert "OMP_WAIT_POLICY = 'PASSIVE'" in passive and "GOMP_SPINCOUNT = '0'" in passive, passive
    active = _libgomp_settings({**base, "OMP_WAIT_POLICY": "ACTIVE"})
    assert "OMP_WAIT_POLICY = 'ACTIVE'" in active, active
    # a plain torch process (no mrd) keeps libgomp's own default: spinning before it sleeps
    plain = subprocess.run([sys.executable, "-c", "import torch"], env={**base, "OMP_DISPLAY_ENV": "VERBOSE"},
                           capture_output=True, text=True, timeout=300).stderr
    assert "GOMP_SPINCOUNT = '0'" not in plain
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "mrd"), "--version"], env=base, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.startswith("mrd "), done.stderr
