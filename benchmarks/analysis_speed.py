"""Benchmark: the whole analysis of 20 participants x 1000 main trials, mixed model included.

A synthetic stimulus set (150 metamers, 3 groups, 2 models, 2 views) and 20 simulated sessions of
1000 main trials each (plus practice and catch trials) are written to a temporary folder; then
``analysis.api.analyze`` runs end to end (loading with digest checks, summaries, binomial mixed
model by the Laplace method (as glmer), psychometric fits, 1000-replicate two-way bootstrap of the
correlations, model observer, every table, figure and ``report.html``). The components are also
timed on their own (with one BLAS thread, as ``analyze`` runs them). Target: under 30 s on the
2-core development machine.

Run::

    .venv/bin/python benchmarks/analysis_speed.py

Results go to ``benchmarks/results/analysis_speed.json`` and ``.md``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis import correlation, mixed, observer, psychometric, summaries  # noqa: E402
from analysis.api import _blas_limit, analyze  # noqa: E402
from analysis.load import load_sessions  # noqa: E402
from analysis.synthetic import make_store, simulate_sessions  # noqa: E402

N_PARTICIPANTS = 20
N_MAIN = 1000
TARGET_S = 30.0
RESULTS = Path(__file__).resolve().parent / "results"
COMMAND = ".venv/bin/python benchmarks/analysis_speed.py"


def _timed(fn, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def main() -> int:
    """Run the benchmark and write its results."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store, t_store = _timed(make_store, root / "set.h5", n_scenes=10, metamers_per_scene=5, size=32)
        _, t_sim = _timed(
            simulate_sessions,
            store,
            root / "data",
            n_participants=N_PARTICIPANTS,
            n_main=N_MAIN,
            n_practice=24,
            catch_rate=0.03,
            seed=1,
        )
        res, t_total = _timed(
            analyze, stimuli=store, data=root / "data", out=root / "out", n_boot=1000, progress=False
        )
        n_analysed = int(res.data.analysed.shape[0])
        n_rows = int(res.data.trials.shape[0])
        parts = {}
        with _blas_limit(1):  # the same BLAS setting analyze() uses by default
            data, parts["load (digest check, join)"] = _timed(load_sessions, root / "data", store)
            a = data.analysed
            _, parts["summaries"] = _timed(
                lambda: (summaries.per_item(a), summaries.per_condition(a), summaries.per_participant(a))
            )
            _, parts["mixed model (Laplace)"] = _timed(mixed.fit_mixed, a, gee=False)
            _, parts["GEE"] = _timed(mixed.fit_mixed, a, methods=(), gee=True)
            _, parts["psychometric fits (3 groups)"] = _timed(psychometric.fit_by_group, a)
            _, parts["correlations (1000 bootstrap)"] = _timed(correlation.item_correlations, a, n_boot=1000)
            _, parts["model observer (sigma fit)"] = _timed(observer.fit_sigma, a)
    result = {
        "benchmark": "analysis_speed",
        "command": COMMAND,
        "participants": N_PARTICIPANTS,
        "main_trials_per_participant": N_MAIN,
        "trial_rows": n_rows,
        "analysed_trials": n_analysed,
        "analyze_total_s": round(t_total, 2),
        "target_s": TARGET_S,
        "under_target": t_total < TARGET_S,
        "components_s": {k: round(v, 2) for k, v in parts.items()},
        "setup_s": {"make_store": round(t_store, 2), "simulate_sessions": round(t_sim, 2)},
        "load_average_1min_at_start": round(load_before, 2),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "analysis_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Analysis speed",
        "",
        f"Command: `{COMMAND}` ({result['date']}, {result['machine']['cpus']} CPUs, "
        f"{result['machine']['platform']}, Python {result['machine']['python']}).",
        "",
        f"{N_PARTICIPANTS} simulated participants x {N_MAIN} main trials ({n_rows} trial rows with practice "
        f"and catch; {n_analysed} analysed), 150 metamers.",
        "",
        "| step | seconds |",
        "| --- | ---: |",
        f"| **`analyze()` end to end (tables, figures, report)** | **{t_total:.2f}** "
        f"(target < {TARGET_S:g}) |",
    ]
    lines += [f"| {k} | {v:.2f} |" for k, v in parts.items()]
    lines += [
        "",
        "Components were timed separately after the end-to-end run. The machine was shared "
        f"(1-minute load average {load_before:.1f} on {os.cpu_count()} CPUs at the start), so times "
        "are upper bounds.",
    ]
    (RESULTS / "analysis_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if t_total < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
