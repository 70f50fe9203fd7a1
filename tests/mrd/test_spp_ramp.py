"""The spp ramp (``optimize.spp_final``) compares each step's renders with a target rendered at the same spp.

The model's activations of noisy renders are shifted, not only spread, by the noise: the demo target's own
parameters score rel_l2 0.23 against a target of spp-8 renders when rendered at spp 8, but 0.44 at spp 64
(benchmarks/results/activation_noise.md). A ramp that kept the base-spp target would pull the optimum away
from the target, so every ramp level has its own target: checked here against an independent recomputation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mrd.config import load_config
from mrd.render.variant import use_variant
from mrd.synthesis.generate import Generator
from mrd.synthesis.objective import mean_features

DEMO = Path(__file__).parents[2] / "stimuli" / "sets" / "demo.toml"


def test_every_ramp_level_has_a_target_at_its_own_spp():
    use_variant("llvm_ad_rgb")
    cfg, _ = load_config(DEMO)
    o = cfg.optimize.model_copy(update={"steps": 7, "stop_on_success": False, "spp_final": 8, "mode": "demo"})
    r = cfg.render.model_copy(update={"resolution": 32, "views": 1, "spp": 2, "display_renders": 2})
    cfg = cfg.model_copy(update={"optimize": o, "render": r, "null": cfg.null.model_copy(update={"draws": 2})})
    gen = Generator(cfg, progress=False)
    job = next(j for j in cfg.jobs() if j.scene == "blob_red" and j.group == "material")
    m = gen.metamer(job).synthesize()
    run = m._run
    assert [run.schedule.spp_at(2, k, 7) for k in range(7)] == [2, 2, 4, 4, 4, 4, 8]
    assert sorted(run.targets) == [2, 4, 8]
    assert m.to_record().info["spp_final"] == 8

    def flat(features: dict[str, torch.Tensor]) -> np.ndarray:
        return np.concatenate([features[k].numpy().ravel() for k in sorted(features)])

    def rel(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b) / np.linalg.norm(b))

    t = m.target
    t.reset()
    for spp in (4, 8):
        kw = dict(n=o.target_renders, spp=spp, integrator="prb", exposure=r.exposure)
        again = flat(mean_features(t.renderer, m.model, seed=m.seeds.target_features + 7919 * spp, **kw))
        other = flat(mean_features(t.renderer, m.model, seed=m.seeds.target_features + 7919 * spp + 1, **kw))
        stored = flat(run.targets[spp])
        # LLVM's multithreaded sums are not bit-reproducible (CI saw 1e-5 in 2 of 25 088 elements), so the
        # recomputation matches to float noise, while the next seed is a different sample by far more
        assert rel(stored, again) < 1e-4
        assert rel(stored, other) > 100 * max(rel(stored, again), 1e-6)
    # the levels differ as the noise says they should: the spp-8 target is not the spp-2 one
    a = np.concatenate([v.numpy().ravel() for v in run.targets[2].values()])
    b = np.concatenate([v.numpy().ravel() for v in run.targets[8].values()])
    assert np.linalg.norm(a - b) / np.linalg.norm(b) > 0.05
