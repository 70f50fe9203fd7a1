"""``optimize.iterate = "average"`` returns (and the experiment mode checks) the mean of the last iterates.

Polyak averaging: near the optimum Adam's noisy steps jitter around it; the mean of the last window of
iterates is closer than any one of them (docs/generate.md "Optimising to the ceiling").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mrd.config import load_config
from mrd.render.variant import use_variant
from mrd.synthesis.generate import Generator

DEMO = Path(__file__).parents[2] / "stimuli" / "sets" / "demo.toml"


def _small(group_update: dict) -> tuple:
    use_variant("llvm_ad_rgb")
    cfg, _ = load_config(DEMO)
    o = cfg.optimize.model_copy(update={"steps": 9, "stop_on_success": False, "mode": "demo", **group_update})
    r = cfg.render.model_copy(update={"resolution": 32, "views": 1, "spp": 2, "display_renders": 2})
    cfg = cfg.model_copy(update={"optimize": o, "render": r, "null": cfg.null.model_copy(update={"draws": 2})})
    gen = Generator(cfg, progress=False)
    return cfg, gen


def test_returned_material_is_the_mean_of_the_last_window_of_iterates():
    cfg, gen = _small({"iterate": "average", "average_window": 4})
    job = next(j for j in cfg.jobs() if j.scene == "blob_red" and j.group == "material")
    m = gen.metamer(job)
    seen = []
    while not m._run.done and m._run.step < cfg.optimize.steps:
        m._run.run(max_steps=1)
        seen.append(m._run.values())
    res = m._run.result()
    assert len(seen) == 9 and res.info["averaged_iterates"] == 4 and res.info["average_window"] == 4
    for k in seen[-1]:
        np.testing.assert_allclose(res.final[k], np.mean([v[k] for v in seen[-4:]], axis=0), rtol=1e-6)
    # the iterates did move, so the mean is not the last one
    assert np.abs(res.final["base_color"] - seen[-1]["base_color"]).max() > 1e-4


def test_shape_average_keeps_the_mesh_faces_and_restarts_at_a_remesh():
    cfg, gen = _small({"iterate": "average", "average_window": 50, "remesh_every": 5})
    job = next(j for j in cfg.jobs() if j.scene == "blob_red" and j.group == "shape")
    m = gen.metamer(job).synthesize()
    res = m._run.result()
    # remeshed after step 5: the window holds the iterates since, on the new mesh
    assert 1 <= res.info["averaged_iterates"] <= 4
    assert res.final["faces"].dtype.kind == "i"
    assert res.final["vertices"].shape[0] == int(res.final["faces"].max()) + 1
