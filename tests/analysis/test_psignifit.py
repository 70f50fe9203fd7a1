"""psignifit 4 (optional backend) against the built-in maximum-likelihood Weibull on the same data."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.psychometric import fit_psychometric, predict

pytest.importorskip("psignifit", reason="optional extra: pip install 'mrd-suite[psignifit]'")

from analysis.psignifit_backend import fit_psignifit  # noqa: E402

ALPHA, BETA, LAPSE = 0.1, 2.0, 0.04


def test_psignifit_agrees_with_builtin_ml_fit() -> None:
    rng = np.random.default_rng(0)
    x = np.repeat(np.geomspace(0.01, 0.5, 8), 150)
    correct = (rng.random(x.size) < predict(x, ALPHA, BETA, LAPSE)).astype(int)
    ml, ps = fit_psychometric(x, correct), fit_psignifit(x, correct)
    # binomial data: psignifit's overdispersion is near 0 and the two fits nearly coincide
    assert ps.eta < 0.05 and ps.n_trials == x.size
    assert ps.alpha == pytest.approx(ml.alpha, rel=0.03)
    assert ps.beta == pytest.approx(ml.beta, rel=0.1)
    assert ps.lapse == pytest.approx(ml.lapse, abs=0.01)
    # each fit's interval holds the truth; the half-way threshold is the same function of the estimates
    assert ml.ci["alpha"][0] < ALPHA < ml.ci["alpha"][1] and ps.ci["beta"][0] < BETA < ps.ci["beta"][1]
    assert ps.ci["lapse"][0] < LAPSE < ps.ci["lapse"][1]
    assert ps.threshold == pytest.approx(ps.alpha * np.log(2) ** (1 / ps.beta), rel=1e-9)
    lo, hi = ps.ci["threshold"]
    assert lo < ALPHA * np.log(2) ** (1 / BETA) < hi


def test_psignifit_backend_in_the_analysis(sessions, tmp_path) -> None:
    from analysis.api import analyze

    store, data, _ = sessions
    res = analyze(
        stimuli=store, data=data, run_mixed=False, n_boot=20, progress=False, psychometric_backend="psignifit"
    )
    ml = analyze(stimuli=store, data=data, run_mixed=False, n_boot=20, progress=False)
    ps_t, ml_t = (r.psychometric.set_index(["group", "parameter"])["estimate"] for r in (res, ml))
    assert {"eta", "threshold"} <= set(ps_t.index.get_level_values("parameter"))
    for g in ml.psychometric["group"].unique():
        assert ps_t[(g, "alpha")] == pytest.approx(ml_t[(g, "alpha")], rel=0.25)
