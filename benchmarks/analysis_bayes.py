"""Benchmark: the full-Bayesian mixed model on Wallis et al. (2017) experiment 1 against lme4's glmer.

Fits ``correct ~ C(model) * C(presentation) + (1 | participant) + (1 | item)`` (logit link) to the
14,400 trials of experiment 1 with ``--mixed-method bayes`` (PyMC NUTS, default priors, 4 chains x 1000
draws after 1000 tuning steps, seed 0) and with the Laplace method, and compares both with glmer's
estimates kept in ``tests/data/r/glmer_e11_intercepts.csv`` (made by tests/data/r/wallis_reference.R).

Stated tolerance (as in tests/analysis/test_bayes.py): every posterior mean of a fixed effect within
0.5 glmer standard errors of glmer's estimate, and glmer's random-effect SDs inside the 95 % credible
intervals. Too slow for a test (minutes), hence a benchmark. Records CPU time (user + sys of this
process) next to wall time and the machine load, since the 2 cores are shared.

Run::

    .venv/bin/python benchmarks/analysis_bayes.py

Results go to ``benchmarks/results/analysis_bayes.json`` and ``.md``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.api import _blas_limit  # noqa: E402
from analysis.load_table import load_trials_table  # noqa: E402
from analysis.mixed import fit_mixed  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets" / "wallis2017_oddity" / "experiment11_trials.csv"
GLMER = ROOT / "tests" / "data" / "r" / "glmer_e11_intercepts.csv"
RESULTS = Path(os.environ.get("MRD_BENCH_RESULTS", ROOT / "benchmarks" / "results"))
COMMAND = ".venv/bin/python benchmarks/analysis_bayes.py"
SETTINGS = {"draws": 1000, "tune": 1000, "chains": 4, "seed": 0}
TOL_SE = 0.5


def _patsy_name(r_term: str) -> str:
    """glmer's coefficient name -> patsy's (``modelconv1:presentationParafoveal`` -> ``C(model)[T.conv1]:...``)."""
    t = r_term.replace("(Intercept)", "Intercept")
    t = re.sub(r"model(\w+?)(?=:|$)", r"C(model)[T.\1]", t)
    return re.sub(r"presentation(\w+)", r"C(presentation)[T.\1]", t)


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def main() -> int:
    """Run the comparison and write its results."""
    if not DATA.exists():
        print(f"{DATA} not found: the Wallis data must be in ../shared/datasets", file=sys.stderr)
        return 1
    trials = load_trials_table(
        DATA, participant_col="subject", item_cols="image", condition_cols=["model", "presentation"]
    ).analysed
    timing = {}
    with _blas_limit(1):
        fits = {}
        for method, kw in (("laplace", {}), ("bayes", {"bayes_options": {**SETTINGS, "progressbar": True}})):
            load, t0, c0 = os.getloadavg()[0], time.perf_counter(), _cpu()
            fits[method] = fit_mixed(trials, methods=[method], condition_cols=["model", "presentation"], **kw)
            timing[method] = {
                "wall_s": time.perf_counter() - t0,
                "cpu_s": _cpu() - c0,
                "load_before": load,
            }
            print(method, timing[method], flush=True)
    bayes = fits["bayes"].bayes
    ref = pd.read_csv(GLMER)
    lap = fits["laplace"].effects.set_index("term")
    rows = []
    if bayes.converged:
        post = bayes.table().set_index("term")
        for _, r in ref[ref["kind"] == "fixed"].iterrows():
            name = _patsy_name(r["term"])
            b = post.loc[name]
            rows.append(
                {
                    "term": name,
                    "glmer": r["estimate"],
                    "glmer_se": r["se"],
                    "laplace": lap.loc[name, "estimate"],
                    "bayes_mean": b["mean"],
                    "bayes_sd": b["sd"],
                    "bayes_lo": b["lo"],
                    "bayes_hi": b["hi"],
                    "diff_in_se": (b["mean"] - r["estimate"]) / r["se"],
                    "sd_over_se": b["sd"] / r["se"],
                    "rhat": b["rhat"],
                    "ess_bulk": b["ess_bulk"],
                    "ess_tail": b["ess_tail"],
                }
            )
        for _, r in ref[ref["kind"] == "sd"].iterrows():
            name = {"subject": "participant", "image": "item"}[r["group"]]
            b = post.loc[name]
            rows.append(
                {
                    "term": name,
                    "glmer": r["estimate"],
                    "laplace": lap.loc[name, "estimate"],
                    "bayes_mean": b["mean"],
                    "bayes_sd": b["sd"],
                    "bayes_lo": b["lo"],
                    "bayes_hi": b["hi"],
                    "rhat": b["rhat"],
                    "ess_bulk": b["ess_bulk"],
                    "ess_tail": b["ess_tail"],
                }
            )
    table = pd.DataFrame(rows)
    fixed = table[table["glmer_se"].notna()] if len(table) else table
    sds = table[table["glmer_se"].isna()] if len(table) else table
    ok_fixed = bool(len(fixed) and (fixed["diff_in_se"].abs() < TOL_SE).all())
    ok_sd = bool(len(sds) and ((sds["bayes_lo"] < sds["glmer"]) & (sds["glmer"] < sds["bayes_hi"])).all())
    out = {
        "command": COMMAND,
        "data": str(DATA.relative_to(ROOT.parent)),
        "model": f"{fits['bayes'].formula} + {' + '.join(fits['bayes'].random_terms)} (logit)",
        "settings": {k: v for k, v in bayes.settings.items()},
        "converged": bayes.converged,
        "problems": bayes.problems,
        "timing": timing,
        "cpus": os.cpu_count(),
        "tolerance": f"|posterior mean - glmer| < {TOL_SE} glmer SE; glmer SDs inside the 95% credible intervals",
        "fixed_within_tolerance": ok_fixed,
        "sds_inside_intervals": ok_sd,
        "max_abs_diff_in_se": float(fixed["diff_in_se"].abs().max()) if len(fixed) else None,
        "sd_over_se_range": [float(fixed["sd_over_se"].min()), float(fixed["sd_over_se"].max())]
        if len(fixed)
        else None,
        "rows": table.to_dict(orient="records"),
        "diagnostics": bayes.diagnostics.to_dict(orient="records"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "analysis_bayes.json").write_text(json.dumps(out, indent=2, default=float))
    s = bayes.settings
    lines = [
        "# Full-Bayesian mixed model vs glmer: Wallis et al. (2017) experiment 1 (14,400 trials)",
        "",
        f"Command: `{COMMAND}`. Model: `{out['model']}`; priors Normal(0, 2.5) on fixed effects, "
        f"HalfStudentT(3, 2.5) on SDs; {s['chains']} chains x {s['draws']} draws after {s['tune']} "
        f"tuning steps, seed {s['seed']}, target acceptance {s['target_accept']:g}; {s['n_cells']} "
        f"binomial cells. Converged: {bayes.converged} (divergences {s['divergences']})"
        + (f"; refused: {'; '.join(bayes.problems)}" if bayes.problems else "")
        + ".",
        "",
        "| fit | wall s | CPU s | load before |",
        "| --- | --- | --- | --- |",
    ]
    for m, t in timing.items():
        lines.append(f"| {m} | {t['wall_s']:.1f} | {t['cpu_s']:.1f} | {t['load_before']:.1f} |")
    if len(table):
        lines += [
            "",
            "| term | glmer | glmer SE | Laplace | posterior mean | posterior SD | 95% CrI | (mean - glmer) / SE "
            "| R-hat | ESS bulk / tail |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in table.to_dict(orient="records"):
            se = r.get("glmer_se")
            has_se = se is not None and pd.notna(se)
            lines.append(
                f"| {r['term']} | {r['glmer']:.4f} | {se:.4f} | "
                if has_se
                else f"| {r['term']} | {r['glmer']:.4f} | | "
            )
            lines[-1] += (
                f"{r['laplace']:.4f} | {r['bayes_mean']:.4f} | {r['bayes_sd']:.4f} | "
                f"{r['bayes_lo']:.3f} to {r['bayes_hi']:.3f} | "
                + (f"{r['diff_in_se']:+.3f}" if has_se else "")
                + f" | {r['rhat']:.4f} | {r['ess_bulk']:.0f} / {r['ess_tail']:.0f} |"
            )
        lines += [
            "",
            f"Tolerance: {out['tolerance']}. Fixed effects within: {ok_fixed} (max |diff| "
            f"{out['max_abs_diff_in_se']:.3f} SE; posterior SD / glmer SE {out['sd_over_se_range'][0]:.3f} to "
            f"{out['sd_over_se_range'][1]:.3f}). SDs inside: {ok_sd}.",
        ]
    lines += [
        "",
        f"Times measured in one run on {os.cpu_count()} shared cores; CPU time is what the fit costs on an "
        "idle machine of this kind (the Bayesian CPU time includes PyTensor's compilation).",
    ]
    (RESULTS / "analysis_bayes.md").write_text("\n".join(lines) + "\n")
    return 0 if bayes.converged and ok_fixed and ok_sd else 3


if __name__ == "__main__":
    raise SystemExit(main())
