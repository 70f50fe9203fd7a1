"""Benchmark: resident memory of the optimisation loop over many steps (target: growth under 2 %).

The shipped loop (:func:`mrd.synthesis.optimize.optimize`) runs for ``--steps`` steps per case; every
``--every`` steps the process's resident set size (RSS, from ``/proc`` through psutil), the number
of live Dr.Jit JIT variables and AD variables (``dr.whos``, ``dr.whos_ad``), and Python's traced
allocations (tracemalloc, ``--trace``) are sampled. **Growth** is the RSS change from the end of the
warm-up (``--warmup`` steps: kernels compiled, allocator pools filled) to the last step, relative
to the RSS at the end of the warm-up. Growth of the variable counts shows a Dr.Jit-side
accumulation even where RSS hides it (allocator caches).

A further case runs many whole metamer jobs (optimisation, display renders, scoring, null
references) in one :class:`mrd.synthesis.generate.Generator`, as ``mrd generate`` does for a whole set, and
samples RSS after each job (``--jobs``).

Cases: ``material`` (prb, every material value varied) and ``shape`` (direct_projective +
LargeSteps), with the demo config's scene. The full run uses the default model (mobilenetv2_100) at
the demo settings (64 px, 8 spp, 2 views, 1000 steps); ``--quick`` uses a tiny user-module model
(``mrd.models.testing:mean_luminance``: the same Dr.Jit <-> torch exchange, almost no model time)
at 32 px, 4 spp, so 1000 steps take about a minute.

Run::

    .venv/bin/python benchmarks/memory.py --quick
    .venv/bin/python benchmarks/memory.py            # default model, demo settings (slow on 2 cores)

Results: ``benchmarks/results/memory[_quick].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    MODEL_SPECS,
    Case,
    bench_device,
    bench_variant,
    demo_config,
    make_setup,
    md_table,
    write_results,
)

TARGET_GROWTH = 0.02
MODEL_SPECS.setdefault("mean_luminance", {"name": "mrd.models.testing:mean_luminance", "layers": ["luminance"],
                                          "weights": "default"})


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _count_lines(text: str | None) -> int:
    return 0 if not text else sum(1 for line in text.splitlines() if line.strip()[:1].isdigit())


def trend(xs: list[float], ys: list[float]) -> float:
    """Least-squares growth of ``ys`` over the span of ``xs``, relative to the fitted start (RSS wobbles by a few
    per cent with allocator reuse; a leak shows as a steady slope)."""
    import numpy as np

    if len(xs) < 3:
        return float("nan")
    slope, icept = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)
    start = icept + slope * xs[0]
    return float(slope * (xs[-1] - xs[0]) / start)


def run_case(case: Case, steps: int, every: int, warmup: int, trace: bool, remesh_every: int = 0) -> dict[str, Any]:
    """Step the loop and sample memory; returns the samples and the growth."""
    import drjit as dr

    from mrd.synthesis.optimize import optimize
    from mrd.synthesis.stop import StopRule

    s = make_setup(case, remesh_every=remesh_every)
    samples: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    if trace:
        tracemalloc.start(10)

    def sample(step: int) -> None:
        gc.collect()
        row = {"step": step, "t_s": time.perf_counter() - t0, "rss_mb": _rss() / 2**20,
               "jit_vars": _count_lines(dr.whos(True)), "ad_vars": _count_lines(dr.whos_ad(True))}
        if trace:
            row["py_traced_mb"] = tracemalloc.get_traced_memory()[0] / 2**20
        samples.append(row)

    def on_step(step: int, loss: float, sim: float) -> None:
        if (step + 1) % every == 0 or step + 1 == warmup:
            sample(step + 1)

    sample(0)
    snap = None
    res = optimize(s.renderer, s.group, s.objective, lr=s.lr, spp=case.spp, seed=s.seeds.render,
                   rule=StopRule(steps=steps), on_step=on_step)
    if trace:
        snap = tracemalloc.take_snapshot()
        tracemalloc.stop()
    base = next(r for r in samples if r["step"] >= warmup)
    last = samples[-1]
    growth = (last["rss_mb"] - base["rss_mb"]) / base["rss_mb"]
    after = [r for r in samples if r["step"] >= warmup]
    fitted = trend([r["step"] for r in after], [r["rss_mb"] for r in after])
    top = []
    if snap is not None:
        top = [str(st) for st in snap.statistics("lineno")[:8]]
    return {"case": case.__dict__, "label": case.label, "steps": res.steps, "samples": samples,
            "rss_warm_mb": base["rss_mb"], "rss_end_mb": last["rss_mb"], "growth": growth,
            "jit_vars_warm": base["jit_vars"], "jit_vars_end": last["jit_vars"],
            "ad_vars_warm": base["ad_vars"], "ad_vars_end": last["ad_vars"], "seconds": time.perf_counter() - t0,
            "tracemalloc_top": top, "remesh_every": remesh_every, "trend_growth": fitted,
            "passed": growth < TARGET_GROWTH and not fitted >= TARGET_GROWTH}


def run_jobs(n_jobs: int, model: str, res: int, steps: int) -> dict[str, Any]:
    """Many whole metamer jobs in one generator (as ``mrd generate`` runs them); RSS after each job."""
    import drjit as dr

    from mrd.config import Job
    from mrd.models import ModelSpec
    from mrd.synthesis.generate import Generator

    bench_variant()
    cfg = demo_config()
    spec = ModelSpec(**MODEL_SPECS[model])
    cfg = cfg.model_copy(update={
        "render": cfg.render.model_copy(update={"resolution": res, "display_spp": 16}),
        "optimize": cfg.optimize.model_copy(update={"steps": steps, "target_renders": 2, "stop_on_success": False}),
        "null": cfg.null.model_copy(update={"draws": 2}), "models": [spec]})
    base = cfg.jobs()
    jobs = [Job(j.scene, j.group, spec.model_id, k, j.start) for k in range(n_jobs) for j in base][:n_jobs]
    gen = Generator(cfg, bench_device(), progress=False)
    for sid in sorted({j.scene for j in jobs}):
        gen.target(sid)
    t0 = time.perf_counter()
    samples = []
    for i, job in enumerate(jobs):
        gen.make(job)
        gc.collect()
        samples.append({"job": i + 1, "metamer": job.metamer_id, "rss_mb": _rss() / 2**20,
                        "jit_vars": _count_lines(dr.whos(True)), "t_s": time.perf_counter() - t0})
    warm = samples[min(len(base), len(samples)) - 1]  # after one round of every job kind
    growth = (samples[-1]["rss_mb"] - warm["rss_mb"]) / warm["rss_mb"]
    after = samples[warm["job"] - 1:]
    fitted = trend([r["job"] for r in after], [r["rss_mb"] for r in after])
    return {"label": f"{n_jobs} metamer jobs ({res}px, {steps} steps, {model})", "samples": samples,
            "rss_warm_mb": warm["rss_mb"], "rss_end_mb": samples[-1]["rss_mb"], "growth": growth,
            "jit_vars_warm": warm["jit_vars"], "jit_vars_end": samples[-1]["jit_vars"], "steps": n_jobs * steps,
            "ad_vars_warm": 0, "ad_vars_end": 0, "seconds": time.perf_counter() - t0,
            "trend_growth": fitted, "passed": growth < TARGET_GROWTH and not fitted >= TARGET_GROWTH,
            "warm_after_job": warm["job"]}


def markdown(results: list[dict[str, Any]], warmup: int) -> str:
    """The results table."""
    rows = [[r["label"], r["steps"], f"{r['rss_warm_mb']:.0f}", f"{r['rss_end_mb']:.0f}", f"{100 * r['growth']:+.2f} %",
             f"{100 * r['trend_growth']:+.2f} %",
             f"{r['jit_vars_warm']} -> {r['jit_vars_end']}", f"{r['ad_vars_warm']} -> {r['ad_vars_end']}",
             f"{r['seconds']:.0f}", "yes" if r["passed"] else "NO"] for r in results]
    return (f"RSS growth from step {warmup} (after warm-up) to the last step (for the job run: from the end of the first "
            f"round of job kinds to the last job), and the least-squares trend over the same span (RSS wobbles by a few "
            f"per cent as allocators reuse memory; a leak is a steady slope); target < {100 * TARGET_GROWTH:.0f} %.\n\n"
            + md_table(["case", "steps", "RSS warm MB", "RSS end MB", "growth", "fitted trend", "JIT vars", "AD vars",
                        "seconds", "< 2 %"], rows) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the cases and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny model, 32 px, 4 spp (about a minute per case)")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--every", type=int, default=50, help="sample every N steps")
    ap.add_argument("--warmup", type=int, default=100, help="growth is measured from this step on")
    ap.add_argument("--groups", default="material,shape")
    ap.add_argument("--remesh-every", type=int, default=0, help="shape: remesh every N steps (0: off)")
    ap.add_argument("--trace", action="store_true", help="also trace Python allocations (tracemalloc; slower)")
    ap.add_argument("--jobs", type=int, default=None,
                    help="also run this many whole metamer jobs in one generator (default 12 quick, 40 full; 0: skip)")
    ap.add_argument("--name", default=None)
    args = ap.parse_args(argv)
    model, res, spp = ("mean_luminance", 32, 4) if args.quick else ("mobilenetv2_100", 64, 8)
    results = []
    for g in args.groups.split(","):
        r = run_case(Case(g, res, spp, model), args.steps, args.every, args.warmup, args.trace,
                     args.remesh_every if g == "shape" else 0)
        print(f"{r['label']}: RSS {r['rss_warm_mb']:.0f} -> {r['rss_end_mb']:.0f} MB ({100 * r['growth']:+.2f} %), "
              f"JIT vars {r['jit_vars_warm']} -> {r['jit_vars_end']}, {r['seconds']:.0f} s", flush=True)
        results.append(r)
    n_jobs = args.jobs if args.jobs is not None else (12 if args.quick else 40)
    if n_jobs:
        r = run_jobs(n_jobs, model, res, 5 if args.quick else 20)
        print(f"{r['label']}: RSS {r['rss_warm_mb']:.0f} -> {r['rss_end_mb']:.0f} MB ({100 * r['growth']:+.2f} %)",
              flush=True)
        results.append(r)
    name = args.name or ("memory_quick" if args.quick else "memory")
    cmd = ".venv/bin/python benchmarks/memory.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_results(name, cmd.strip(), {"target_growth": TARGET_GROWTH, "warmup": args.warmup, "results": results},
                  markdown(results, args.warmup))
    return 0 if all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
