"""The default mixed model against lme4's glmer, and the oddity link against R's glm with psyphy.

Reference values: tests/data/r/*.csv, made by tests/data/r/wallis_reference.R (R 4.2.2, lme4 1.1-31,
psyphy 0.2-3; see versions.csv) on the Wallis et al. (2017) tables. The analytic gradient of the
Laplace deviance is checked against central finite differences of the deviance itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import patsy
import pytest

from analysis.binomial import LOGIT, fit_glm, oddity_link
from analysis.glmm import _Problem
from analysis.glmm_terms import RandomTerm
from analysis.load_table import load_trials_table
from analysis.mixed import fit_mixed

R_DIR = Path(__file__).resolve().parents[1] / "data" / "r"
MAPPING = {"participant_col": "subject", "item_cols": "image", "condition_cols": ["model", "presentation"]}
RANDOM = {
    "intercepts": ("participant", "item"),
    "slopes": ("(1 + presentation | participant)", "(1 + presentation | item)"),
}
GROUP = {"subject": "participant", "image": "item"}


def _ours(term: str) -> str:
    """R's coefficient name -> patsy's (``modelconv1:presentationParafoveal`` -> ``C(model)[T.conv1]:...``)."""
    term = term.replace("(Intercept)", "Intercept")
    term = re.sub(r"model([A-Za-z0-9]+)", r"C(model)[T.\1]", term)
    return re.sub(r"presentation([A-Za-z]+)", r"C(presentation)[T.\1]", term)


def _sd_name(group: str, term: str) -> str:
    g = GROUP[group]
    return (
        g
        if term == "(Intercept)"
        else f"{g}:{term.replace('presentationParafoveal', 'presentation[T.Parafoveal]')}"
    )


def _trials(wallis: Path, expt: str) -> pd.DataFrame:
    return load_trials_table(wallis / f"experiment{expt}_trials.csv", **MAPPING).analysed


@pytest.mark.parametrize("expt", ["11", "12"])
@pytest.mark.parametrize("structure", ["intercepts", "slopes"])
def test_laplace_matches_glmer(wallis: Path, expt: str, structure: str) -> None:
    ref = pd.read_csv(R_DIR / f"glmer_e{expt}_{structure}.csv")
    res = fit_mixed(
        _trials(wallis, expt), random=RANDOM[structure], gee=False, condition_cols=["model", "presentation"]
    )
    eff = res.effects.set_index("term")
    assert set(eff["method"]) == {"glmm-laplace"} and res.laplace is not None
    fixed = ref[ref["kind"] == "fixed"]
    assert len(fixed) == (eff["kind"] == "fixed").sum()
    for _, r in fixed.iterrows():
        ours = eff.loc[_ours(r["term"])]
        assert ours["estimate"] == pytest.approx(r["estimate"], rel=0.02, abs=1e-3), r["term"]
        assert ours["sd"] == pytest.approx(r["se"], rel=0.02), r["term"]
    for _, r in ref[ref["kind"] == "sd"].iterrows():
        assert eff.loc[_sd_name(r["group"], r["term"]), "estimate"] == pytest.approx(r["estimate"], rel=0.02)
    for _, r in ref[ref["kind"] == "cor"].iterrows():
        g = GROUP[r["group"]]
        assert eff.loc[f"{g}:cor(Intercept, presentation[T.Parafoveal])", "estimate"] == pytest.approx(
            r["estimate"], abs=0.02
        )
    # the same optimum: the Laplace deviance agrees with glmer's -2 logLik
    dev = float(ref.loc[ref["kind"] == "deviance", "estimate"].iloc[0])
    assert res.laplace.deviance == pytest.approx(dev, abs=1e-3)


def test_laplace_is_deterministic(wallis: Path) -> None:
    t = _trials(wallis, "12")
    a, b = (fit_mixed(t, gee=False, condition_cols=["model", "presentation"]).effects for _ in range(2))
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("expt", ["11", "12"])
@pytest.mark.parametrize("model", ["additive", "factorial"])
def test_oddity_link_matches_psyphy_glm(wallis: Path, expt: str, model: str) -> None:
    ref = pd.read_csv(R_DIR / f"glm_mafc_e{expt}_{model}.csv")
    t = _trials(wallis, expt)
    rhs = "C(model) + C(presentation)" if model == "additive" else "C(model) * C(presentation)"
    x = patsy.dmatrix(rhs, t, return_type="dataframe")
    beta, vcov, dev = fit_glm(t["correct"].to_numpy(float), x.to_numpy(), oddity_link(3))
    ours = pd.DataFrame({"estimate": beta, "se": np.sqrt(np.diag(vcov))}, index=x.columns)
    fixed = ref[ref["kind"] == "fixed"]
    for _, r in fixed.iterrows():
        assert ours.loc[_ours(r["term"]), "estimate"] == pytest.approx(r["estimate"], abs=1e-4), r["term"]
        assert ours.loc[_ours(r["term"]), "se"] == pytest.approx(r["se"], abs=1e-4), r["term"]
    assert dev == pytest.approx(float(ref.loc[ref["kind"] == "deviance", "estimate"].iloc[0]), abs=1e-4)


def test_oddity_link_glmm_matches_glmer(wallis: Path) -> None:
    """glmer(..., binomial(mafc.logit(3))) on experiment 1 (experiment 2 has cells at chance: glmer fails there)."""
    ref = pd.read_csv(R_DIR / "glmer_mafc_e11_intercepts.csv")
    res = fit_mixed(
        _trials(wallis, "11"), formula="correct ~ C(model) + C(presentation)", link="oddity", gee=False
    )
    eff = res.effects.set_index("term")
    for _, r in ref[ref["kind"] == "fixed"].iterrows():
        assert eff.loc[_ours(r["term"]), "estimate"] == pytest.approx(r["estimate"], rel=0.02)
        assert eff.loc[_ours(r["term"]), "sd"] == pytest.approx(r["se"], rel=0.02)
    for _, r in ref[ref["kind"] == "sd"].iterrows():
        assert eff.loc[_sd_name(r["group"], r["term"]), "estimate"] == pytest.approx(r["estimate"], rel=0.02)
    # at least as good an optimum as glmer's
    assert res.laplace.deviance <= float(ref.loc[ref["kind"] == "deviance", "estimate"].iloc[0]) + 1e-6


@pytest.mark.parametrize("link", [LOGIT, oddity_link(3)], ids=["logit", "oddity"])
def test_gradient_matches_finite_differences(link) -> None:
    rng = np.random.default_rng(1)
    n = 1500
    gp, gi = rng.integers(0, 12, n), rng.integers(0, 20, n)
    xc = rng.integers(0, 2, n).astype(float)
    x = np.column_stack([np.ones(n), xc, rng.normal(size=n)])
    eta = (
        0.3
        + 0.5 * xc
        + rng.normal(0, 0.7, 12)[gp]
        + rng.normal(0, 0.5, 20)[gi]
        + rng.normal(0, 0.4, 12)[gp] * xc
    )
    y = (rng.random(n) < link.mu(eta)).astype(float)
    terms = [
        RandomTerm(
            "p", gp, [str(i) for i in range(12)], np.column_stack([np.ones(n), xc]), ["(Intercept)", "x"]
        ),
        RandomTerm("i", gi, [str(i) for i in range(20)], np.ones((n, 1)), ["(Intercept)"]),
    ]
    prob = _Problem(y, x, terms, link, None)
    x0 = np.array([0.6, 0.2, 0.5, 0.4, 0.2, 0.4, 0.1])
    _, grad = prob.evaluate(x0)
    fd = []
    for j in range(len(x0)):
        e = np.zeros(len(x0))
        e[j] = 1e-5
        fd.append(
            (prob.evaluate(x0 + e, gradient=False)[0] - prob.evaluate(x0 - e, gradient=False)[0]) / 2e-5
        )
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-4)
