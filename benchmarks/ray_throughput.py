"""Benchmark: metamer throughput of ``mrd generate`` locally and on Ray with 1 and 2 workers.

Each setting makes a fresh store from the same config with :func:`mrd.synthesis.generate.generate`
(``executor="local"``, then ``"ray"`` with ``workers=1`` and ``workers=2`` on a local Ray instance
that owns every core of this machine) and records the wall time of the whole run (model loading,
target renders and worker start-up included) and of the metamer phase alone (from the first job
handed to the executor to the last record written), and metamers per minute. Settings run in
rounds, in alternating order (local, 1, 2 workers; then 2, 1, local), and medians are reported,
so a drift of the machine's load does not favour one setting.

On a 2-core machine two workers share the same two cores that one worker (2 threads) or the local
process uses, so expect little gain: the point of the Ray path is more machines and GPUs.

Run::

    .venv/bin/python benchmarks/ray_throughput.py --quick    # the demo config cut to 32 px, 10 steps
    .venv/bin/python benchmarks/ray_throughput.py            # the demo config as shipped

Results: ``benchmarks/results/ray_throughput[_quick].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEMO, md_table, write_results  # noqa: E402


def quick_config(folder: Path) -> Path:
    """The demo config cut down (32 px, 10 steps, 64 display spp, 2 null draws)."""
    text = DEMO.read_text()
    for old, new in (("resolution = 64", "resolution = 32"), ("display_spp = 256", "display_spp = 64"),
                     ("steps = 60", "steps = 10"), ("draws = 30", "draws = 2")):
        text = text.replace(old, new)
    path = folder / "demo_quick.toml"
    path.write_text(text)
    return path


class _Clock:
    """Wraps an executor's ``run`` to time the metamer phase."""

    def __init__(self, executor: Any) -> None:
        self.executor, self.first, self.last = executor, None, None

    def run(self, ctx: Any, specs: Any) -> Any:
        self.first = time.perf_counter()
        for rec in self.executor.run(ctx, specs):
            self.last = time.perf_counter()
            yield rec

    def describe(self) -> str:
        return self.executor.describe()


def run_setting(config: Path, folder: Path, executor: str, workers: int | None) -> dict[str, Any]:
    """One fresh ``generate`` run; its times."""
    import mrd.synthesis.generate as ex  # generate() calls the make_executor it imported
    from mrd.synthesis.generate import generate

    clocks: list[_Clock] = []
    original = ex.make_executor

    def timed_executor(*a: Any, **k: Any) -> Any:
        clocks.append(_Clock(original(*a, **k)))
        return clocks[-1]

    ex.make_executor = timed_executor
    try:
        out = folder / f"{executor}_{workers or 0}.h5"
        t0 = time.perf_counter()
        s = generate(config, out, progress=False, executor=executor, workers=workers)
        total = time.perf_counter() - t0
    finally:
        ex.make_executor = original
    c = clocks[0]
    phase = (c.last - c.first) if c.first and c.last else float("nan")
    n = len(s.made)
    return {"executor": executor, "workers": workers, "description": s.executor, "metamers": n, "total_s": total,
            "metamer_phase_s": phase, "metamers_per_min": 60.0 * n / phase}


def main(argv: list[str] | None = None) -> int:
    """Run the three settings and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=None,
                    help="rounds of the three settings, alternating order (default 1 quick, 2 full)")
    ap.add_argument("--name", default=None)
    args = ap.parse_args(argv)
    import numpy as np
    import ray

    rounds = args.rounds or (1 if args.quick else 2)
    settings = [("local", None), ("ray", 1), ("ray", 2)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = quick_config(folder) if args.quick else DEMO
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        try:
            for k in range(rounds):
                for executor, workers in settings if k % 2 == 0 else settings[::-1]:
                    sub = folder / f"round{k}"
                    sub.mkdir(exist_ok=True)
                    r = run_setting(config, sub, executor, workers)
                    r["round"] = k
                    print(f"{r['description']}: {r['metamers']} metamers, phase {r['metamer_phase_s']:.1f} s, "
                          f"total {r['total_s']:.1f} s, {r['metamers_per_min']:.2f}/min", flush=True)
                    rows.append(r)
        finally:
            ray.shutdown()
    summary = []
    for executor, workers in settings:
        rs = [r for r in rows if r["executor"] == executor and r["workers"] == workers]
        summary.append({"description": rs[-1]["description"], "metamers": rs[0]["metamers"], "runs": len(rs),
                        "metamer_phase_s": float(np.median([r["metamer_phase_s"] for r in rs])),
                        "total_s": float(np.median([r["total_s"] for r in rs])),
                        "metamers_per_min": float(np.median([r["metamers_per_min"] for r in rs]))})
    base = summary[1]["metamers_per_min"]
    table = md_table(["executor", "metamers", "runs", "metamer phase s (median)", "whole run s", "metamers / min",
                      "vs ray 1 worker"],
                     [[r["description"], r["metamers"], r["runs"], f"{r['metamer_phase_s']:.1f}", f"{r['total_s']:.1f}",
                       f"{r['metamers_per_min']:.2f}", f"{r['metamers_per_min'] / base:.2f}x"] for r in summary])
    note = ("\n\nOn 2 cores, 2 workers (1 thread each) share the cores one worker (2 threads) uses: little gain is "
            "expected; scale-out pays with more machines or GPUs.\n")
    name = args.name or ("ray_throughput_quick" if args.quick else "ray_throughput")
    cmd = ".venv/bin/python benchmarks/ray_throughput.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_results(name, cmd.strip(), {"config": "demo (quick cut)" if args.quick else "demo", "rounds": rounds,
                                      "summary": summary, "rows": rows},
                  table + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
