"""Real data: Wallis et al. (2017) texture oddity trials, analysed through the generic entry.

Per-condition proportion correct is checked against counts made with the csv module (not pandas) and
against the trial counts stated in the dataset's README; the mixed model is fitted and the report written.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from analysis.api import analyze
from analysis.commands import main as analyze_main
from analysis.load_table import load_trials_table
from analysis.mixed import fit_mixed
from analysis.summaries import per_condition, per_participant

# README "Trial counts": trials per subject, missed responses, totals.
README = {
    "experiment11_trials.csv": {
        "total": 14400,
        "missed": 37,
        "subjects": {"CF": 3600, "TW": 3600, **{f"S{i}": 720 for i in range(1, 11)}},
        "cell": {"CF": 300, "TW": 300, "S1": 60},  # trials per model x presentation cell
    },
    "experiment12_trials.csv": {
        "total": 6480,
        "missed": 58,
        "subjects": {"CF": 1440, "TW": 1440, "S1": 720, "S2": 1440, "S3": 1440},
        "cell": {"CF": 240, "S1": 120, "S3": 240},
    },
}
MAPPING = {"participant_col": "subject", "item_cols": "image", "condition_cols": ["model", "presentation"]}


def _csv_counts(path: Path) -> tuple[Counter, Counter, Counter, Counter, int]:
    n, k, subj, cell = Counter(), Counter(), Counter(), Counter()
    missed = 0
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            key = f"{row['model']} / {row['presentation']}"
            n[key] += 1
            k[key] += int(row["correct"])
            subj[row["subject"]] += 1
            cell[(row["subject"], key)] += 1
            missed += row["response"] == ""
    return n, k, subj, cell, missed


@pytest.mark.parametrize("name", sorted(README))
def test_per_condition_accuracy_reproduced(wallis: Path, name: str) -> None:
    n, k, subj, cell, missed = _csv_counts(wallis / name)
    expected = README[name]
    assert sum(n.values()) == expected["total"] and missed == expected["missed"]
    assert dict(subj) == expected["subjects"]
    for s, per_cell in expected["cell"].items():
        assert {v for (ss, _), v in cell.items() if ss == s} == {per_cell}

    d = load_trials_table(wallis / name, **MAPPING)
    cond = per_condition(d.analysed).set_index("condition")
    assert len(d.analysed) == expected["total"] and set(cond.index) == set(n)
    for key in n:
        assert cond.loc[key, "n"] == n[key] and cond.loc[key, "k"] == k[key]
        assert cond.loc[key, "pc"] == pytest.approx(k[key] / n[key], abs=1e-15)
        assert cond.loc[key, "pc_lo"] < cond.loc[key, "pc"] < cond.loc[key, "pc_hi"]
    part = per_participant(d.analysed).set_index("participant")
    assert part["n"].to_dict() == expected["subjects"]


def test_mixed_model_on_experiment_1(wallis: Path) -> None:
    d = load_trials_table(wallis / "experiment11_trials.csv", **MAPPING)
    res = fit_mixed(d.analysed, condition_cols=d.condition_cols, gee=True)
    assert res.formula == "correct ~ C(model) * C(presentation)" and res.n_trials == 14400
    eff = res.effects
    assert set(eff["method"]) == {"glmm-laplace", "gee"}
    assert np.isfinite(eff[["estimate", "lo", "hi"]].to_numpy()).all()
    vb = eff[eff["method"] == "glmm-laplace"].set_index("term")
    assert len(vb) == 12 + 2  # 12 cells of the 6 x 2 design, two random-intercept SDs
    assert (
        vb.loc["C(presentation)[T.Parafoveal]", "hi"] < 0
    )  # brief presentation is harder (baseline model: PS)
    assert vb.loc["C(model)[T.conv1]", "lo"] > 0  # conv1 syntheses are easier to tell apart than PS
    assert 0 < vb.loc["participant", "estimate"] < 2 and 0 < vb.loc["item", "estimate"] < 2


def test_report_for_experiment_2_via_command_line(wallis: Path, tmp_path: Path) -> None:
    out = tmp_path / "wallis12"
    assert (
        analyze_main(
            [
                "analyze",
                "--trials",
                str(wallis / "experiment12_trials.csv"),
                "--out",
                str(out),
                "--participant-col",
                "subject",
                "--item-col",
                "image",
                "--condition-col",
                "model",
                "--condition-col",
                "presentation",
                "--quiet",
            ]
        )
        == 0
    )
    html = (out / "report.html").read_text()
    assert "6,480 trials from 5 participants and 12 items in 6 conditions" in html
    assert "correct ~ C(model) * C(presentation)" in html
    for stem in ("accuracy_by_condition", "item_dprime"):
        assert (out / "figures" / f"{stem}.png").exists() and (out / "figures" / f"{stem}.svg").exists()
    assert (out / "tables" / "mixed_effects.csv").exists()


def test_api_returns_dataframes(wallis: Path) -> None:
    res = analyze(trials=wallis / "experiment11_trials.csv", progress=False, run_mixed=False, **MAPPING)
    assert len(res.conditions) == 12 and res.files == []
    assert (
        res.conditions["n"].sum() == 14400
        and res.psychometric.empty
        and res.sigma is None
        and res.mixed is None
    )
