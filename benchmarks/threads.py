"""Benchmark: torch's OpenMP wait policy and thread count, on an idle and on a busy machine.

Dr.Jit and torch each run their own pool of worker threads, one per core. torch's OpenMP threads
spin-wait at barriers by default; when another process holds a core, a parallel region waits for a
descheduled thread, and on 2 cores a step of the generator was measured 3-15x slower. This script
times the optimisation step (material, 64 px, 8 spp, 2 views, the default model; the body of
:func:`mrd.synthesis.optimize.optimize`) in fresh processes under three settings:

* ``default``: nothing set (libgomp spins, then sleeps);
* ``passive``: ``OMP_WAIT_POLICY=PASSIVE`` (waiting threads sleep at once);
* ``spin10k``: ``GOMP_SPINCOUNT=10000`` (a short spin, then sleep);
* ``torch1``: ``torch.set_num_threads(1)``;

each on the machine as it is (``idle``) and with one extra process spinning on a core (``busy``,
a stand-in for any other job), alternating settings so that slow drifts of the machine's own load
hit all alike.

Run::

    .venv/bin/python benchmarks/threads.py --reps 3

Results: ``benchmarks/results/threads.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

SETTINGS: dict[str, dict[str, str]] = {"default": {}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
                                       "spin10k": {"GOMP_SPINCOUNT": "10000"},
                                       "torch1": {"MRD_BENCH_TORCH_THREADS": "1"}}


def one_run(steps: int = 8) -> float:
    """Median step time (ms) in this process."""
    import numpy as np

    if os.environ.get("MRD_BENCH_TORCH_THREADS"):
        import torch

        torch.set_num_threads(int(os.environ["MRD_BENCH_TORCH_THREADS"]))
    from _common import Case, make_setup
    from step_breakdown import StepBench

    b = StepBench(make_setup(Case("material", 64, 8, "mobilenetv2_100")))
    for _ in range(3):
        b.step()
    return 1e3 * float(np.median([b.step()["step"] for _ in range(steps)]))


def main(argv: list[str] | None = None) -> int:
    """Alternate the settings in fresh processes and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps({"step_ms": one_run()}))
        return 0
    from _common import md_table, write_results

    res: dict[str, dict[str, list[float]]] = {k: {"idle": [], "busy": []} for k in SETTINGS}
    loads: list[float] = []
    for _ in range(args.reps):
        for load in ("idle", "busy"):
            for name, env in SETTINGS.items():
                hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load == "busy" else None
                try:
                    out = subprocess.run([sys.executable, __file__, "--child"], env={**os.environ, **env},
                                         capture_output=True, text=True, check=True).stdout
                finally:
                    if hog is not None:
                        hog.kill()
                        hog.wait()
                res[name][load].append(json.loads(out.strip().splitlines()[-1])["step_ms"])
                loads.append(os.getloadavg()[0])
                print(f"{name} {load}: {res[name][load][-1]:.0f} ms (load {loads[-1]:.1f})", flush=True)

    def med(v: list[float]) -> str:
        import numpy as np

        return f"{np.median(v):.0f} ({min(v):.0f}-{max(v):.0f})"

    rows: list[list[Any]] = [[k, med(v["idle"]), med(v["busy"])] for k, v in res.items()]
    md = (f"Step time in ms, median (range) of {args.reps} fresh processes per cell; material 64 px, 8 spp, 2 views, "
          "mobilenetv2_100. 'busy' = one extra process spinning on one of the cores.\n\n"
          + md_table(["setting", "idle", "busy"], rows) + "\n")
    cmd = ".venv/bin/python benchmarks/threads.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_results("threads", cmd.strip(), {"reps": args.reps, "step_ms": res, "load_averages": loads}, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
