"""End to end: analyze() on simulated sessions, outputs on disk, the command line, import hygiene."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.api import analyze
from analysis.commands import main as analyze_main
from analysis.load import load_sessions
from analysis.psychometric import fit_by_group
from analysis.synthetic import simulate_sessions

REPO = Path(__file__).resolve().parents[2]
TRUE_PARAMS = {"shape": (0.05, 1.5, 0.04), "material": (0.10, 2.0, 0.04), "lighting": (0.03, 1.2, 0.04)}


def test_analyze_end_to_end(sessions: tuple[Path, Path, pd.DataFrame], tmp_path: Path) -> None:
    store, data, truth = sessions
    out = tmp_path / "out"
    res = analyze(stimuli=store, data=data, out=out, n_boot=200, progress=False)
    for name in (
        "trials",
        "sessions",
        "exclusions",
        "summary_items",
        "summary_participants",
        "summary_conditions",
        "summary_participant_conditions",
        "mixed_effects",
        "psychometric",
        "correlations",
        "observer_items",
        "observer_sigma",
        "metamers",
    ):
        assert (out / "tables" / f"{name}.csv").stat().st_size > 0, name
    for fig in ("accuracy_vs_distance", "item_dprime", "model_vs_human", "contact_sheet"):
        for ext in (".png", ".svg"):
            assert (out / "figures" / f"{fig}{ext}").stat().st_size > 1000, fig + ext
    html = (out / "report.html").read_text()
    n_analysed = int(((truth["block_type"] == "main") & (truth["is_catch"] == 0)).sum())
    assert f"{n_analysed:,} main-block trials from 6 participants" in html
    assert "1 incomplete session(s) included: sub-P06_ses-1_trials.csv" in html
    assert "figures/contact_sheet.png" in html and "tables/mixed_effects.csv" in html
    meta = json.loads((out / "analysis.json").read_text())
    assert meta["mixed_formula"] == "correct ~ similarity_z * C(group)"
    # the fitted Weibull thresholds are near the simulated ones
    psy = res.psychometric.set_index(["group", "parameter"])
    for g, (alpha, _, _) in TRUE_PARAMS.items():
        assert 0.6 * alpha < psy.loc[(g, "alpha"), "estimate"] < 1.6 * alpha
    # similarity lowers accuracy: negative slope, and negative item-level correlations
    vb = res.mixed.effects.set_index(["method", "term"]).loc["glmm-laplace"]
    assert vb.loc["similarity_z", "hi"] < 0
    assert (res.correlations["rho"] < 0).all()
    assert res.sigma is not None and res.sigma.lo < res.sigma.sigma < res.sigma.hi
    assert set(res.tables()) >= {"trials", "mixed_effects", "observer_items"}


def test_command_line(
    sessions: tuple[Path, Path, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, data, _ = sessions
    out = tmp_path / "cli"
    assert (
        analyze_main(
            [
                "analyze",
                "--stimuli",
                str(store),
                "--data",
                str(data),
                "--out",
                str(out),
                "--no-mixed",
                "--n-boot",
                "50",
                "--sigma",
                "0.05",
                "--quiet",
            ]
        )
        == 0
    )
    assert (out / "report.html").exists() and not (out / "tables" / "mixed_effects.csv").exists()
    sig = pd.read_csv(out / "tables" / "observer_sigma.csv")
    assert sig["sigma"].iloc[0] == 0.05 and not sig["fitted"].iloc[0]

    foreign = tmp_path / "foreign"
    shutil.copytree(data, foreign)
    simulate_sessions(store, foreign / "more", n_participants=1, n_main=5, seed=1, digest="0" * 64)
    capsys.readouterr()
    assert (
        analyze_main(
            ["analyze", "--stimuli", str(store), "--data", str(foreign), "--out", str(tmp_path / "x")]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "sub-P01_ses-1_trials.csv" in err and "0000000000000000" in err and "Traceback" not in err
    assert analyze_main(["analyze", "--out", str(tmp_path / "y")]) == 2


def test_mrd_cli_has_analyze(sessions: tuple[Path, Path, pd.DataFrame], tmp_path: Path) -> None:
    cli = pytest.importorskip("mrd.cli")
    store, data, _ = sessions
    assert (
        cli.main(
            [
                "analyze",
                "--stimuli",
                str(store),
                "--data",
                str(data),
                "--out",
                str(tmp_path / "o"),
                "--no-mixed",
                "--n-boot",
                "20",
                "--quiet",
            ]
        )
        == 0
    )
    assert (tmp_path / "o" / "report.html").exists()


def test_imports_stay_light() -> None:
    code = (
        "import sys, analysis, analysis.api, analysis.commands, analysis.figures, analysis.load;"
        "import analysis.mixed, analysis.psychometric, analysis.correlation, analysis.observer;"
        "heavy = ('torch', 'psychopy', 'mitsuba', 'drjit', 'mrd', 'psychophysics');"
        "bad = [m for m in heavy if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_generic_entry_with_numeric_predictor(
    sessions: tuple[Path, Path, pd.DataFrame], tmp_path: Path
) -> None:
    """The same trials through the plain-table entry (with a numeric predictor) give the same fits."""
    store, data, _ = sessions
    a = load_sessions(data, store).analysed
    path = tmp_path / "table.csv"
    a[["participant", "metamer_id", "group", "distance", "correct"]].to_csv(path, index=False)
    res = analyze(
        trials=path,
        item_cols="metamer_id",
        condition_cols="group",
        x_col="distance",
        run_mixed=False,
        n_boot=50,
        progress=False,
        out=tmp_path / "o",
    )
    ref, _ = fit_by_group(a)
    pd.testing.assert_frame_equal(res.psychometric, ref)
    assert (res.correlations["predictor"] == "distance").all() and (res.correlations["rho"] > 0).all()
    assert res.sigma is None and (tmp_path / "o" / "figures" / "accuracy_vs_distance.svg").exists()
