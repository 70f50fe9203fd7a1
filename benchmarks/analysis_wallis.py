"""Benchmark: `mrd analyze --trials` on the Wallis et al. (2017) experiment-1 table (target: under 10 s).

Runs, in a fresh process each time (imports included), the command of issue 13's "must show"::

    mrd analyze --trials ../shared/datasets/wallis2017_oddity/experiment11_trials.csv --out OUT \\
        --participant-col subject --item-col image --condition-col model --condition-col presentation

(Laplace mixed model, d'-scale effects, 1000-replicate cluster bootstrap, figures, report), three
times, and records wall and CPU time (user + system of the child) with the machine load, since the
2 cores are shared. Needs ../shared/datasets next to the repository.

Run::

    .venv/bin/python benchmarks/analysis_wallis.py

Results go to ``benchmarks/results/analysis_wallis.json`` and ``.md``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "wallis2017_oddity" / "experiment11_trials.csv"
RESULTS = ROOT / "benchmarks" / "results"
TARGET_S = 10.0
COMMAND = ".venv/bin/python benchmarks/analysis_wallis.py"
MRD = ["-m", "mrd.cli"]


def main() -> int:
    """Run the benchmark and write its results."""
    if not DATA.exists():
        print(f"{DATA} not found: the Wallis data must be in ../shared/datasets", file=sys.stderr)
        return 1
    runs = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            args = [
                sys.executable,
                *MRD,
                "analyze",
                "--trials",
                str(DATA),
                "--out",
                tmp,
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
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            html = (Path(tmp) / "report.html").read_text() if proc.returncode == 0 else ""
            runs.append(
                {
                    "rc": proc.returncode,
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "load_before": load,
                    "laplace_in_report": "glmm-laplace" in html,
                    "dprime_effects_in_report": "Differences in d&#x27;" in html,
                    "hierarchical_in_report": "Conditions over participants and items" in html,
                    "stderr_tail": proc.stderr[-300:] if proc.returncode else "",
                }
            )
            print(runs[-1], flush=True)
    best_wall = min(r["wall_s"] for r in runs)
    best_cpu = min(r["cpu_s"] for r in runs)
    out = {
        "command": COMMAND,
        "target_s": TARGET_S,
        "cpus": os.cpu_count(),
        "runs": runs,
        "best_wall_s": best_wall,
        "best_cpu_s": best_cpu,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "analysis_wallis.json").write_text(json.dumps(out, indent=2))
    lines = [
        "# `mrd analyze --trials` on Wallis et al. (2017) experiment 1 (14,400 trials)",
        "",
        f"Command: `{COMMAND}` (three fresh `python -m mrd.cli analyze ...` processes). Target {TARGET_S:g} s.",
        "",
        "| run | wall s | CPU s (user + sys) | load before | Laplace table | d' effects | hierarchical intervals |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i, r in enumerate(runs, 1):
        lines.append(
            f"| {i} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['load_before']:.1f} | "
            f"{r['laplace_in_report']} | {r['dprime_effects_in_report']} | {r['hierarchical_in_report']} |"
        )
    lines += [
        "",
        f"Best wall {best_wall:.1f} s, best CPU {best_cpu:.1f} s on {os.cpu_count()} shared cores. "
        "CPU time is what the run costs on an idle machine of this kind; wall time grows with the load.",
    ]
    (RESULTS / "analysis_wallis.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
