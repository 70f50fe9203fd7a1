"""What `mrd analyze` writes: the Wallis experiment-1 report with the Laplace model, d'-scale effects and
hierarchical intervals; readable tables; figures as axes-level functions; clear refusals."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis import figures
from analysis.api import analyze
from analysis.commands import main as analyze_main
from stimuli.errors import MRDError

REPO = Path(__file__).resolve().parents[2]
ARGS = ["--participant-col", "subject", "--item-col", "image", "--condition-col", "model"]
ARGS += ["--condition-col", "presentation", "--quiet"]


@pytest.fixture(scope="module")
def wallis_out(wallis: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("w11")
    assert (
        analyze_main(
            ["analyze", "--trials", str(wallis / "experiment11_trials.csv"), "--out", str(out), *ARGS]
        )
        == 0
    )
    return out


def test_report_has_laplace_model_dprime_effects_and_hierarchical_intervals(wallis_out: Path) -> None:
    html = (wallis_out / "report.html").read_text()
    assert "glmm-laplace" in html and "glmm-vb" not in html and "Laplace approximation" in html
    assert (
        "Conditions over participants and items" in html
        and "Differences in d&#x27; between conditions" in html
    )
    assert "these trials only" in html and "per participant x condition" in html
    eff = pd.read_csv(wallis_out / "tables" / "mixed_effects.csv")
    assert set(eff["method"]) == {"glmm-laplace"}
    ce = pd.read_csv(wallis_out / "tables" / "condition_effects.csv")
    assert len(ce) == 12 and {"model", "presentation", "condition"} <= set(ce.columns)
    assert (ce["pc_glmm_lo"] < ce["pc_glmm"]).all() and (ce["pc_glmm"] < ce["pc_glmm_hi"]).all()
    assert (ce["dprime_glmm_lo"] <= ce["dprime_glmm"]).all() and (
        ce["dprime_glmm"] <= ce["dprime_glmm_hi"]
    ).all()
    assert (ce["pc_boot_lo"] <= ce["pc"]).all() and (ce["pc"] <= ce["pc_boot_hi"]).all()
    # intervals over participants and items are wider than the pooled Wilson ones (trials are not independent)
    wilson = pd.read_csv(wallis_out / "tables" / "summary_conditions.csv").set_index("condition")
    w_width = (wilson["pc_hi"] - wilson["pc_lo"]).loc[ce["condition"]].to_numpy()
    assert np.mean(ce["pc_boot_hi"] - ce["pc_boot_lo"]) > 1.5 * np.mean(w_width)
    assert np.mean(ce["pc_glmm_hi"] - ce["pc_glmm_lo"]) > 1.5 * np.mean(w_width)
    con = pd.read_csv(wallis_out / "tables" / "dprime_contrasts.csv")
    assert len(con) == 66
    row = con[(con["condition_a"] == "PS / Inspection") & (con["condition_b"] == "conv1 / Inspection")].iloc[
        0
    ]
    assert row["dprime_diff"] < 0 and row["dprime_diff_hi"] < 0 and row["p_value"] < 1e-6
    assert row["dprime_diff_lo"] <= row["dprime_diff"] <= row["dprime_diff_hi"]


def test_tables_readable_ordered_and_typed(wallis_out: Path) -> None:
    for path in (wallis_out / "tables").glob("*.csv"):
        pd.read_csv(path)  # empty tables too: they have headers
    assert list(pd.read_csv(wallis_out / "tables" / "psychometric.csv").columns)[:2] == ["group", "parameter"]
    assert "model_pc" in pd.read_csv(wallis_out / "tables" / "observer_items.csv").columns
    assert "rho" in pd.read_csv(wallis_out / "tables" / "correlations.csv").columns
    part = pd.read_csv(wallis_out / "tables" / "summary_participants.csv")["participant"].tolist()
    assert part == ["CF", *[f"S{i}" for i in range(1, 11)], "TW"]
    cond = pd.read_csv(wallis_out / "tables" / "summary_conditions.csv")
    assert {"model", "presentation", "condition"} <= set(cond.columns)
    assert (cond["model"] + " / " + cond["presentation"] == cond["condition"]).all()
    with open(wallis_out / "tables" / "trials.csv", newline="") as fh:
        responses = {row["response"] for row in csv.DictReader(fh)}
    assert responses == {"", "1", "2", "3"}  # missed responses made the column float on reading


def test_figures_are_axes_level() -> None:
    rng = np.random.default_rng(0)
    conds = [f"cond{i}" for i in range(12)]
    items = pd.DataFrame(
        {
            "condition": np.repeat(conds, 3),
            "item": [f"it{i}" for i in range(36)],
            "dprime": rng.uniform(0, 3, 36),
        }
    )
    items["group"] = items["condition"]
    items["dprime_lo"], items["dprime_hi"] = items["dprime"] - 0.3, items["dprime"] + 0.3
    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    assert figures.plot_item_dprime(items, ax=ax) is ax
    lines = [c for c in ax.containers]
    assert len({tuple(c.lines[0].get_color()) for c in lines}) == 12  # distinct past 10 conditions
    assert sorted(t.get_text() for t in ax.get_xticklabels()) == sorted(items["item"])
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    assert (
        ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
    )  # covers no data
    c = pd.DataFrame({"condition": conds, "pc": 0.6, "pc_lo": 0.5, "pc_hi": 0.7})
    ax2 = figures.plot_conditions(c, ax=Figure().subplots())
    assert "oddity d'" in [a.get_ylabel() for a in ax2.figure.axes]


def test_import_analysis_is_lazy() -> None:
    code = (
        "import sys, analysis; lazy = [m for m in ('analysis.api', 'pandas', 'matplotlib') if m in sys.modules];"
        "from analysis import analyze; import analysis.figures, analysis.outputs;"
        "assert callable(analyze) and 'matplotlib.pyplot' not in sys.modules, 'pyplot imported';"
        "print(lazy); sys.exit(1 if lazy else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _table(tmp_path: Path, distance: np.ndarray) -> Path:
    rng = np.random.default_rng(3)
    n = len(distance)
    t = pd.DataFrame(
        {
            "subject": rng.integers(0, 6, n).astype(str),
            "image": rng.integers(0, 10, n).astype(str),
            "cond": np.repeat(["a", "b", "c"], n // 3),
            "dist": distance,
            "correct": rng.integers(0, 2, n),
        }
    )
    path = tmp_path / "t.csv"
    t.to_csv(path, index=False)
    return path


def test_predictor_constant_within_conditions_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _table(tmp_path, np.repeat([0.1, 0.2, 0.3], 100))
    kw = {"participant_col": "subject", "item_cols": "image", "condition_cols": "cond", "x_col": "dist"}
    with pytest.raises(MRDError, match="'distance' is constant within every condition"):
        analyze(trials=path, progress=False, n_boot=20, **kw)
    args = ["analyze", "--trials", str(path), "--out", str(tmp_path / "o"), "--participant-col", "subject"]
    args += ["--item-col", "image", "--condition-col", "cond", "--x-col", "dist", "--quiet", "--n-boot", "20"]
    assert analyze_main(args) == 2
    err = capsys.readouterr().err
    assert "constant within every condition" in err and "Traceback" not in err


def test_negative_or_infinite_distance_is_refused() -> None:
    from analysis.psychometric import fit_by_group, fit_psychometric

    x = np.tile(np.linspace(0.0, 0.5, 100), 3)
    correct = (np.random.default_rng(0).random(300) < 0.6).astype(int)
    x[5] = -0.2
    with pytest.raises(MRDError, match=r"distance -0.2 \(trial 6 of 300\) is negative"):
        fit_psychometric(x, correct)
    t = pd.DataFrame({"group": "shape", "distance": x, "correct": correct})
    with pytest.raises(MRDError, match="group 'shape': distance -0.2"):
        fit_by_group(t)
    x[5] = np.inf
    with pytest.raises(MRDError, match="inf .* is infinite"):
        fit_psychometric(x, correct)
    x[5] = -1e-12  # 1 - cosine rounded below 0 is not an error
    assert fit_psychometric(x, correct).n_trials == 300


def test_command_line_random_slopes_and_oddity_link(wallis: Path, tmp_path: Path) -> None:
    out = tmp_path / "slopes"
    args = ["analyze", "--trials", str(wallis / "experiment12_trials.csv"), "--out", str(out), *ARGS]
    args += ["--random", "(1 + presentation | participant)", "--random", "item", "--n-boot", "50"]
    assert analyze_main(args) == 0
    eff = pd.read_csv(out / "tables" / "mixed_effects.csv").set_index("term")
    assert eff.loc["participant:cor(Intercept, presentation[T.Parafoveal])", "kind"] == "random_cor"
    assert eff.loc["item", "kind"] == "random_sd" and "item:presentation[T.Parafoveal]" not in eff.index
    assert "(1 + presentation | participant) + (1 | item)" in (out / "report.html").read_text()
    out2 = tmp_path / "oddity"
    formula = "correct ~ C(model) + C(presentation) + (1 | participant) + (1 | item)"
    args = ["analyze", "--trials", str(wallis / "experiment11_trials.csv"), "--out", str(out2), *ARGS]
    assert analyze_main([*args, "--formula", formula, "--link", "oddity", "--n-boot", "50"]) == 0
    html = (out2 / "report.html").read_text()
    assert "mafc.logit(3)" in html
    ce = pd.read_csv(out2 / "tables" / "condition_effects.csv")
    assert (ce["pc_glmm_lo"] > 1 / 3 - 1e-9).all()  # the guess-rate link keeps pc above chance
