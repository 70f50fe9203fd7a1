"""The render-level standard error of the model's oddity proportion against its real spread.

The triplets of one scene pair share their renders, so the proportion correct of a verdict varies
with the renders far more than a binomial interval over triplets says. ``render_jackknife_se`` must
match (conservatively: the jackknife over-estimates a U-statistic's variance) the spread of ``pc_exhaustive`` over independent render sets of the same two scenes: exchangeable
Gaussian "activations" (a perfect metamer) and a shifted one (a model that can half tell them apart).
"""

from __future__ import annotations

import numpy as np
import pytest

from mrd.synthesis.oddity import model_oddity


def _spread(shift: float, r: int, sets: int = 200, seed: int = 0) -> tuple[float, float, float, float]:
    """Mean pc, sd of pc over independent render sets, mean jackknife SE, mean binomial half-width / 1.96."""
    rng = np.random.default_rng(seed)
    scene = rng.normal(5.0, 1.0, (1, 2, 30))
    pcs, ses, binom = [], [], []
    for _ in range(sets):
        t = {"x": scene + rng.normal(0.0, 0.3, (r, 2, 30))}
        m = {"x": scene + shift + rng.normal(0.0, 0.3, (r, 2, 30))}
        o = model_oddity(t, m, 200, rng)
        pcs.append(o.pc_exhaustive)
        ses.append(o.pc_se_renders)
        binom.append((o.ci_high - o.ci_low) / 2 / 1.96)
    return float(np.mean(pcs)), float(np.std(pcs, ddof=1)), float(np.mean(ses)), float(np.mean(binom))


@pytest.mark.parametrize(("shift", "r"), [(0.0, 6), (0.0, 12), (0.03, 8)])
def test_jackknife_se_is_a_conservative_match_of_the_spread_over_render_sets(shift: float, r: int) -> None:
    # measured (200 sets each): se / sd = 1.59 at R 6, 1.40 at R 8 and 12 -- never below the real spread
    mean_pc, sd, se, _ = _spread(shift, r)
    assert 1.0 < se / sd < 1.8, (mean_pc, sd, se)


def test_render_error_exceeds_the_binomial_error_at_few_renders() -> None:
    mean_pc, sd, se, binom = _spread(0.0, 6)
    assert abs(mean_pc - 1 / 3) < 0.03
    assert sd > 1.5 * binom  # 200 triplets over 6 + 6 renders: the binomial interval is far too narrow


def test_no_se_below_three_renders_per_scene() -> None:
    rng = np.random.default_rng(0)
    x = {"x": rng.normal(size=(2, 1, 5))}
    assert model_oddity(x, {"x": rng.normal(size=(4, 1, 5))}, 20, rng).pc_se_renders is None
