"""Run every generator benchmark in quick mode (``make bench``), one after another.

Each runs in its own process (so one's threads and caches do not colour the next) and writes its
``benchmarks/results/*_quick.{json,md}``; the analysis benchmarks of ``benchmarks/`` run too. The
full grids are run by hand (see ``benchmarks/README.md``); they take from minutes to about an hour
on 2 cores.

Run::

    .venv/bin/python benchmarks/run_all.py            # everything, quick
    .venv/bin/python benchmarks/run_all.py --only memory,views
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

QUICK = {
    "step_breakdown": ["step_breakdown.py", "--quick"],
    "memory": ["memory.py", "--quick"],
    "time_to_metamer": ["time_to_metamer.py", "--quick"],
    "views": ["views.py", "--quick"],
    "ray_throughput": ["ray_throughput.py", "--quick"],
    "analysis_speed": ["analysis_speed.py"],
    "psychometric_recovery": ["psychometric_recovery.py"],
}
"""Benchmark name -> script and arguments."""


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; exit status 1 if any failed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default=None, help="comma-separated names: " + ", ".join(QUICK))
    args = ap.parse_args(argv)
    names = args.only.split(",") if args.only else list(QUICK)
    unknown = [n for n in names if n not in QUICK]
    if unknown:
        print(f"run_all: unknown benchmarks {unknown}; known: {', '.join(QUICK)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        script, *rest = QUICK[name]
        if not (HERE / script).exists():
            print(f"== {name}: {script} not found, skipped", flush=True)
            continue
        if name == "ray_throughput":
            try:
                import ray  # noqa: F401
            except ImportError:
                print("== ray_throughput: Ray is not installed (pip install 'mrd-suite[cluster]'), skipped", flush=True)
                continue
        print(f"== {name}: {script} {' '.join(rest)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / script), *rest], cwd=HERE.parent)
        print(f"== {name}: exit {rc} after {time.perf_counter() - t0:.0f} s", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        print(f"run_all: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
