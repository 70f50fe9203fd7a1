"""The MRD reference's shape schedule, available in the generator: an Adam update after every view, remeshing
after listed steps with the rate scaled at each (``step_per_view``, ``remesh_at``, ``remesh_lr_factor``).

Checked against what they must equal: with one view a per-view step *is* the accumulated step (same renders,
same seeds: identical iterates); with two views Adam takes two updates per step; a remesh listed in
``remesh_at`` happens after that step and scales the rate by the factor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mrd.config import load_config
from mrd.render.variant import use_variant
from mrd.synthesis.generate import Generator

DEMO = Path(__file__).parents[2] / "stimuli" / "sets" / "demo.toml"


def _metamer(group: str, views: int, steps: int, **update: object):
    use_variant("llvm_ad_rgb")
    cfg, _ = load_config(DEMO)
    o = cfg.optimize.model_copy(update={"steps": steps, "stop_on_success": False, "mode": "demo", "iterate": "last",
                                        **update})  # fmt: skip
    r = cfg.render.model_copy(update={"resolution": 32, "views": views, "spp": 2, "display_renders": 2})
    cfg = cfg.model_copy(update={"optimize": o, "render": r, "null": cfg.null.model_copy(update={"draws": 2})})
    gen = Generator(cfg, progress=False)
    job = next(j for j in cfg.jobs() if j.scene == "blob_red" and j.group == group)
    return gen.metamer(job)


def _adam_updates(opt, key: str) -> int:
    return int(opt.state[key][3][0][0])  # mi.ad.Adam keeps (t, m, v, ...) per parameter


def test_one_view_per_view_step_is_the_accumulated_step():
    runs = []
    for per_view in (False, True):
        m = _metamer("material", 1, 4, step_per_view=per_view)
        start = m._run.values()
        m._run.run()
        runs.append((m._run.values(), list(m._run.losses)))
    (a, la), (b, lb) = runs
    np.testing.assert_allclose(la, lb, rtol=1e-5)
    # equal up to float32 sum order (LLVM threads), and that is >100x below how far the iterates moved
    moved = max(float(np.abs(a[k] - start[k]).max()) for k in a)
    assert moved > 1e-3
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < moved / 100


def test_two_views_take_two_adam_updates_per_step_and_move_differently():
    finals = {}
    for per_view in (False, True):
        m = _metamer("material", 2, 3, step_per_view=per_view)
        m._run.run()
        key = next(iter(m._run.opt.state))
        assert _adam_updates(m._run.opt, key) == (6 if per_view else 3)
        assert len(m._run.losses) == 3 and np.all(np.isfinite(m._run.losses))
        finals[per_view] = m._run.values()["base_color"]
    assert m._run.result().info["step_per_view"] is True
    assert np.abs(finals[True] - finals[False]).max() > 1e-4


def test_remesh_at_listed_steps_scales_the_rate():
    m = _metamer("shape", 1, 4, remesh_at=[2], remesh_lr_factor=0.8, lr_decay="none", step_per_view=True)
    lr0 = m._run.lr
    m._run.run(max_steps=1)
    assert m._run.group.remeshes == 0 and m._run.opt.lr == lr0
    m._run.run(max_steps=1)  # after step 2: the remesh, and the rate times 0.8
    assert m._run.group.remeshes == 1
    np.testing.assert_allclose([m._run.lr, m._run.opt.lr], [0.8 * lr0, 0.8 * lr0], rtol=1e-6)
    m._run.run(max_steps=1)  # Adam restarted on the remeshed vertices: one update since
    assert _adam_updates(m._run.opt, "u") == 1
    m._run.run()
    info = m._run.result().info
    assert info["remeshes"] == 1 and info["remesh_lr_factor"] == 0.8
