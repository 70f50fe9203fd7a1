"""Benchmark: torch's OpenMP wait policy and thread count, on a quiet and on a loaded machine.

Dr.Jit and torch each run their own pool of worker threads, one per core. torch's OpenMP threads
spin-wait at barriers by default; when another process holds a core, a parallel region waits for a
descheduled thread, and on 2 cores a step of the generator was measured 3-15x slower. This script
times the optimisation step (the body of :func:`mrd.synthesis.optimize.optimize`; 64 px, 8 spp,
2 views, the default model) of a **material** and a **shape** metamer in fresh processes under
the settings (``--settings``):

* ``default``: nothing set (libgomp spins, then sleeps);
* ``passive``: ``OMP_WAIT_POLICY=PASSIVE`` (waiting threads sleep at once);
* ``spin10k``: ``GOMP_SPINCOUNT=10000`` (a short spin, then sleep);
* ``torch1``: ``torch.set_num_threads(1)``;

each on the machine as it is (``idle``) and with ``--hogs`` extra processes spinning (``busy``, a
stand-in for any other job), alternating groups, loads and settings within one run so that slow
drifts of the machine's own load hit all alike. The children are told the setting explicitly
(``OMP_WAIT_POLICY`` unset for ``default``), so the ``mrd`` entry point's own default (docs/generate.md,
"Threads") does not leak in.

Run::

    .venv/bin/python benchmarks/threads.py --reps 3 --hogs 2

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


def one_run(group: str = "material", steps: int = 8) -> float:
    """Median step time (ms) in this process."""
    import numpy as np

    if os.environ.get("MRD_BENCH_TORCH_THREADS"):
        import torch

        torch.set_num_threads(int(os.environ["MRD_BENCH_TORCH_THREADS"]))
    from _common import Case, make_setup
    from step_breakdown import StepBench

    b = StepBench(make_setup(Case(group, 64, 8, "mobilenetv2_100")))
    for _ in range(3):
        b.step()
    return 1e3 * float(np.median([b.step()["step"] for _ in range(steps)]))


def main(argv: list[str] | None = None) -> int:
    """Alternate the settings in fresh processes and write the results."""
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--hogs", type=int, default=1, help="spinning processes of the 'busy' load")
    ap.add_argument("--groups", default="material,shape")
    ap.add_argument("--settings", default="default,passive")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps({"step_ms": one_run(args.child)}))
        return 0
    import signal

    from _common import md_table, write_results

    def _stop(*_: Any) -> None:
        raise SystemExit(143)  # so that the spinning helper processes are killed on SIGTERM too

    signal.signal(signal.SIGTERM, _stop)
    groups, settings = args.groups.split(","), args.settings.split(",")
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    res: dict[str, dict[str, dict[str, list[float]]]] = {
        g: {k: {"idle": [], "busy": []} for k in settings} for g in groups}
    loads: dict[str, list[float]] = {"idle": [], "busy": []}
    cmd = ".venv/bin/python benchmarks/threads.py " + " ".join(argv if argv is not None else sys.argv[1:])

    def med(v: list[float]) -> str:
        return f"{np.median(v):.0f} ({min(v):.0f}-{max(v):.0f})" if v else "-"

    def write(partial: bool) -> None:
        rows: list[list[Any]] = []
        for g in groups:
            d = res[g].get("default")
            for k, v in res[g].items():
                ratio = [f"{np.median(d[x]) / np.median(v[x]):.2f}" if d and d[x] and v[x] else "-"
                         for x in ("idle", "busy")]
                rows.append([g, k, med(v["idle"]), med(v["busy"]), *ratio])
        lm = {k: f"{np.median(v):.1f}" if v else "-" for k, v in loads.items()}
        md = (("**Partial: the run was stopped before all repetitions.**\n\n" if partial else "")
              + f"Step time in ms, median (range) of up to {args.reps} fresh processes per cell; 64 px, 8 spp, "
              f"2 views, mobilenetv2_100. 'busy' = {args.hogs} extra process(es) spinning; 1-minute load average "
              f"while the children ran: idle median {lm['idle']}, busy median {lm['busy']}. "
              "Speed-up = default / this setting (> 1: faster than the default).\n\n"
              + md_table(["group", "setting", "idle", "busy", "speed-up idle", "speed-up busy"], rows) + "\n")
        write_results("threads", cmd.strip(), {"reps": args.reps, "hogs": args.hogs, "complete": not partial,
                                              "step_ms": res, "load_averages": loads}, md)

    for _ in range(args.reps):
        for group in groups:
            for load in ("idle", "busy"):
                for name in settings:
                    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                            for _ in range(args.hogs if load == "busy" else 0)]
                    try:
                        out = subprocess.run([sys.executable, __file__, "--child", group],
                                             env={**base, **SETTINGS[name]}, capture_output=True, text=True,
                                             check=True).stdout
                        loads[load].append(os.getloadavg()[0])
                    finally:
                        for h in hogs:
                            h.kill()
                            h.wait()
                    res[group][name][load].append(json.loads(out.strip().splitlines()[-1])["step_ms"])
                    print(f"{group} {name} {load}: {res[group][name][load][-1]:.0f} ms (load {loads[load][-1]:.1f})",
                          flush=True)
                    write(partial=True)

    write(partial=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
