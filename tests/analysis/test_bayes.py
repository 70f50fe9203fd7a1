"""The full-Bayesian mixed model (PyMC NUTS) against known truth and the Laplace fit, and its refusal rule.

Data are simulated from the model itself (12 participants x 16 items x 4 trials, a per-item predictor
and a per-trial two-level condition, random intercepts for participant and item), so the truth is
known. Tolerances, for fixed effects, in units of the Laplace standard error ``se``:

* posterior mean within 0.5 se of the Laplace estimate: the Monte Carlo error of a posterior mean is
  sd / sqrt(ESS) <= 0.07 sd at the accepted ESS >= 200; the Normal(0, 2.5) prior moves an estimate by
  ~ se^2 / 2.5^2 (< 2 % of se here); and logit-scale fixed effects of a GLMM grow with the random-effect
  variance as ~ sqrt(1 + 0.346 sigma^2) (Zeger, Liang & Albert 1988), so a posterior that averages over
  SDs larger than their ML estimates (12 participants, 16 items) scales them up by ~3 % here, up to
  ~0.3 se (0.25 se was first tried and failed on distance_z by this effect, 0.29 and 0.40 se);
* posterior SD between 0.8 and 1.5 se: the posterior integrates over the random-effect SDs, which
  glmer's Hessian-based SE covers to first order only, so it is mostly wider, by more for item-level
  predictors with 16 items (Monte Carlo error of an SD ~ 1 / sqrt(2 ESS) = 5 %);
* the 95 % credible interval's centre within 0.5 se of the Wald interval's (as the mean) and its
  half-width 0.8-1.5 x the Wald half-width (as the SD; the ends may then differ by up to ~1 se);
* truth within 3 posterior SDs; true random-effect SDs and the Laplace SD estimates inside the 95 %
  credible intervals.

Sampler settings in the tests: 2 chains x 1000 draws after 500 tuning steps (ESS threshold 200; with
500 draws the item SD of the first data set had R-hat 1.012 and was refused, as the rule says).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc", reason="the optional Bayesian extra (mrd-suite[bayes]) is not installed")

from analysis.api import analyze  # noqa: E402
from analysis.bayes import PRIORS, require  # noqa: E402
from analysis.commands import main  # noqa: E402
from analysis.mixed import fit_mixed  # noqa: E402
from stimuli.errors import MRDError  # noqa: E402

TRUTH = {"Intercept": 0.6, "distance_z": 0.8, "C(cond)[T.b]": -0.5}
SD_P, SD_I = 0.5, 0.5
SHORT = {"draws": 1000, "tune": 500, "chains": 2, "seed": 1}
FORMULA = "correct ~ distance_z + C(cond)"


def _simulate(guess: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_p, n_i, reps = 12, 16, 4
    u_p, u_i = rng.normal(0, SD_P, n_p), rng.normal(0, SD_I, n_i)
    dist_i = rng.uniform(0.05, 0.5, n_i)
    p, i = np.repeat(np.arange(n_p), n_i * reps), np.tile(np.repeat(np.arange(n_i), reps), n_p)
    cond = np.where(np.arange(len(p)) % 2 == 0, "a", "b")
    z = (dist_i[i] - dist_i[i].mean()) / dist_i[i].std()  # as analysis.mixed standardises
    eta = TRUTH["Intercept"] + TRUTH["distance_z"] * z + TRUTH["C(cond)[T.b]"] * (cond == "b")
    mu = guess + (1 - guess) / (1 + np.exp(-(eta + u_p[p] + u_i[i])))
    return pd.DataFrame(
        {
            "participant": [f"p{v:02d}" for v in p],
            "item": [f"i{v:02d}" for v in i],
            "cond": cond,
            "distance": dist_i[i],
            "correct": (rng.random(len(p)) < mu).astype(int),
        }
    )


@pytest.fixture(scope="module")
def logit_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    """``analyze()`` with Laplace and Bayes on a simulated table (the report is written too)."""
    tmp = tmp_path_factory.mktemp("bayes")
    csv = tmp / "trials.csv"
    _simulate(0.0, seed=11).rename(columns={"distance": "dist"}).to_csv(csv, index=False)
    res = analyze(
        trials=csv,
        out=tmp / "out",
        condition_cols=["cond"],
        x_col="dist",
        formula=FORMULA,
        mixed_methods=["laplace", "bayes"],
        bayes_options=SHORT,
        n_boot=20,
        progress=False,
    )
    return res, tmp / "out"


def _check_against(eff: pd.DataFrame) -> None:
    lap, bay = eff.loc["glmm-laplace"], eff.loc["glmm-bayes"]
    for term, true in TRUTH.items():
        b, lp = bay.loc[term], lap.loc[term]
        se = lp["sd"]
        assert abs(b["estimate"] - true) < 3 * b["sd"], term
        assert abs(b["estimate"] - lp["estimate"]) < 0.5 * se, (term, b["estimate"], lp["estimate"])
        assert 0.8 * se < b["sd"] < 1.5 * se, (term, b["sd"], se)
        centre, half = (b["lo"] + b["hi"]) / 2, (b["hi"] - b["lo"]) / 2
        assert abs(centre - (lp["lo"] + lp["hi"]) / 2) < 0.5 * se, term
        assert 0.8 < half / ((lp["hi"] - lp["lo"]) / 2) < 1.5, term
    for term, true in (("participant", SD_P), ("item", SD_I)):
        b = bay.loc[term]
        assert b["lo"] < true < b["hi"], term
        assert b["lo"] < lap.loc[term, "estimate"] < b["hi"], term


def test_posterior_near_truth_and_laplace(logit_run: tuple) -> None:
    res, _ = logit_run
    fit = res.mixed.bayes
    assert fit.converged and fit.problems == []
    _check_against(res.mixed.effects.set_index(["method", "term"]))
    table = fit.table().set_index("term")
    assert (table["rhat"] <= 1.01).all() and (table[["ess_bulk", "ess_tail"]] >= 200).all().all()
    assert table.loc["Intercept", "prior"] == PRIORS["fixed"] == "Normal(0, 2.5)"
    assert table.loc["item", "prior"] == PRIORS["sd"]
    assert fit.settings["divergences"] == 0 and fit.settings["n_cells"] < len(res.data.analysed)
    # every random-effect level was checked too
    levels = fit.diagnostics.query("kind == 'random_levels'")
    assert list(levels["term"]) == ["participant: 12 levels (worst)", "item: 16 levels (worst)"]


def test_report_states_priors_and_diagnostics(logit_run: tuple) -> None:
    res, out = logit_run
    table = pd.read_csv(out / "tables" / "mixed_bayes.csv")
    assert {"prior", "mean", "lo", "hi", "rhat", "ess_bulk", "ess_tail"} <= set(table.columns)
    assert (out / "figures" / "bayes_vs_laplace.png").stat().st_size > 0
    html = (out / "report.html").read_text()
    assert "Bayesian mixed model (PyMC NUTS)" in html and "HalfStudentT(3, 2.5)" in html
    assert "LKJ(1)" in res.methods and "R-hat &lt;= 1.01" in html and "2 chains x 1000 draws" in res.methods


def test_oddity_link_matches_laplace() -> None:
    res = fit_mixed(
        _simulate(1 / 3, seed=5),
        formula=FORMULA,
        methods=["laplace", "bayes"],
        link="oddity",
        bayes_options=SHORT,
    )
    assert res.bayes.converged and res.bayes.settings["link"] == "mafc.logit(3)"
    _check_against(res.effects.set_index(["method", "term"]))


def test_unconverged_fit_is_refused_and_deterministic() -> None:
    t = _simulate(0.0, seed=2)
    short = {"draws": 10, "tune": 10, "chains": 2, "seed": 3}
    a = fit_mixed(t, formula=FORMULA, methods=["bayes"], bayes_options=short)
    b = fit_mixed(t, formula=FORMULA, methods=["bayes"], bayes_options=short)
    assert not a.bayes.converged and a.bayes.problems
    assert any("ESS" in p for p in a.bayes.problems)
    assert not (a.effects["method"] == "glmm-bayes").any()  # no numbers presented as results
    assert any("not reported" in n for n in a.notes)
    with pytest.raises(MRDError, match="not reported"):
        a.bayes.table()
    assert "mean" not in a.bayes.report_table()
    pd.testing.assert_frame_equal(a.bayes.diagnostics, b.bayes.diagnostics)  # same seed, same draws
    np.testing.assert_array_equal(a.bayes.idata.posterior["beta"], b.bayes.idata.posterior["beta"])


def test_cli_refuses_unconverged_fit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    csv = tmp_path / "t.csv"
    _simulate(0.0, seed=2).to_csv(csv, index=False)
    args = ["analyze", "--trials", str(csv), "--out", str(tmp_path / "o"), "--condition-col", "cond"]
    args += ["--mixed-method", "laplace", "--mixed-method", "bayes", "--n-boot", "20", "--quiet"]
    code = main(args + ["--bayes-draws", "10", "--bayes-tune", "10", "--bayes-chains", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "not reported" in err and "--bayes-draws" in err and "Traceback" not in err
    diag = pd.read_csv(tmp_path / "o" / "tables" / "mixed_bayes.csv")
    assert "mean" not in diag and diag["rhat"].notna().any()
    assert "NOT REPORTED" in (tmp_path / "o" / "report.html").read_text()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--bayes-chains", "1", "integer in [2, 64]"), ("--bayes-target-accept", "1.5", "number in (0, 1)")],
)
def test_cli_bad_sampler_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture, option: str, value: str, message: str
) -> None:
    code = main(["analyze", "--trials", "missing.csv", "--out", str(tmp_path), "--mixed-method", "bayes"])
    assert code == 2 and "missing.csv" in capsys.readouterr().err  # good settings: the table is at fault
    with pytest.raises(SystemExit) as exc:
        main(["analyze", "--trials", "missing.csv", "--out", str(tmp_path), "--mixed-method", "bayes",
              option, value])  # fmt: skip
    err = capsys.readouterr().err
    assert exc.value.code == 2 and option in err and message in err, err
    with pytest.raises(MRDError, match="chains = 1, but R-hat compares chains"):  # the API checks too
        fit_mixed(_simulate(0.0, seed=2), formula=FORMULA, methods=["bayes"], bayes_options={"chains": 1})


def test_missing_extra_names_the_install(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "pymc", None)  # as if the extra were not installed
    with pytest.raises(MRDError, match=r"pip install 'mrd-suite\[bayes\]'"):
        require()
    code = main(["analyze", "--trials", "t.csv", "--out", "o", "--mixed-method", "bayes"])
    assert code == 2 and "pip install 'mrd-suite[bayes]'" in capsys.readouterr().err


def test_random_slopes_are_correlated_and_named_as_laplace() -> None:
    """A slope model samples (short run: refused, but every parameter is diagnosed under the Laplace names)."""
    t = _simulate(0.0, seed=4)
    res = fit_mixed(
        t,
        formula="correct ~ distance_z + C(cond) + (1 + cond | participant) + (1 | item)",
        methods=["laplace", "bayes"],
        bayes_options={"draws": 30, "tune": 30, "chains": 2, "seed": 0},
    )
    laplace = res.effects.query("method == 'glmm-laplace' and kind != 'fixed'")
    diag = res.bayes.diagnostics.query("kind in ('random_sd', 'random_cor')")
    assert list(diag["term"]) == list(laplace["term"])
    assert "participant:cor(Intercept, cond[T.b])" in set(diag["term"])
    assert diag.set_index("term").loc["participant:cor(Intercept, cond[T.b])", "prior"] == PRIORS["cor"]
    cor = res.bayes.idata.posterior["L_0_corr"].values[..., 0, 1]
    assert np.all(np.abs(cor) <= 1) and cor.std() > 0  # sampled, within [-1, 1]
    assert not res.bayes.converged  # 60 draws cannot pass ESS >= 200
