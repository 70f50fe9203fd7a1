"""Benchmark: what the strict criterion says of a *perfect* metamer: the target scene itself, re-rendered.

Each check renders the target's own parameters ``--renders`` times with fresh seeds (a new seed base per
check) and judges them exactly as a metamer's check is judged (:meth:`mrd.synthesis.metamer.Metamer.evaluate`:
the generating model's oddity proportion correct against the scene's stored target renders, and the distance
ratio to a re-render). Reported: the mean and standard deviation of both over ``--checks`` checks and how
many have ``oddity_pc <= oddity_pc_max``. This is the yardstick for every time-to-metamer table: a metamer
cannot be expected to do better than its own scene, and the ratio of a re-render is 1 only on average over
target render sets (against one scene's stored renders it carries that set's own deviation).

Run::

    .venv/bin/python benchmarks/criterion_null.py --checks 12 --renders 8

Results: ``benchmarks/results/criterion_null.json`` and ``.md``.

Examples
--------
>>> summarise([{"oddity_pc": 0.3, "distance_ratio": 1.0}, {"oddity_pc": 0.5, "distance_ratio": 1.02}], 0.45)
{'checks': 2, 'pc_mean': 0.4, 'pc_sd': 0.1414, 'ratio_mean': 1.01, 'ratio_sd': 0.0141, 'pc_at_most_max': 1}
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEMO, bench_device, bench_variant, md_table, write_results  # noqa: E402
from time_to_metamer import _Ctx, _null_display, load  # noqa: E402


def summarise(rows: list[dict[str, Any]], pc_max: float) -> dict[str, Any]:
    """Mean and sd of pc and ratio over checks, and the number of checks with ``pc <= pc_max``."""
    import numpy as np

    pc = np.array([r["oddity_pc"] for r in rows])
    ratio = np.array([r["distance_ratio"] for r in rows])
    return {"checks": len(rows), "pc_mean": round(float(pc.mean()), 4), "pc_sd": round(float(pc.std(ddof=1)), 4),
            "ratio_mean": round(float(ratio.mean()), 4), "ratio_sd": round(float(ratio.std(ddof=1)), 4),
            "pc_at_most_max": int((pc <= pc_max).sum())}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checks", type=int, default=12)
    ap.add_argument("--renders", type=int, default=8, help="fresh renders per check (criterion.check_renders)")
    ap.add_argument("--display-renders", type=int, default=8, help="the scene's stored target renders")
    ap.add_argument("--scene", default="blob_red")
    ap.add_argument("--name", default="criterion_null")
    args = ap.parse_args(argv)
    from tqdm import tqdm

    from mrd.config import Job
    from mrd.groups.base import copy_values
    from mrd.synthesis.generate import Generator
    from mrd.synthesis.metamer import Metamer

    bench_variant()
    cfg = load(DEMO, False, 10)
    cfg = cfg.model_copy(update={"render": cfg.render.model_copy(update={"display_renders": args.display_renders})})
    gen = Generator(cfg, bench_device(), progress=False)
    models = gen.load_models()
    first = next(j for j in cfg.jobs() if j.scene == args.scene)
    job = Job(first.scene, "material", first.model, 0, first.start)
    target = gen.target(job.scene)
    m = Metamer(target, models[job.model], job.group, cfg, model_id=job.model, null_display=_null_display(_Ctx(gen), job))
    m.setup(start=job.start, seed=0, start_values=copy_values(target.params[job.group]))  # the scene itself
    rows = []
    for k in tqdm(range(args.checks), desc="re-renders of the target", unit="check"):
        base = 900_000 + 10_007 * k
        ev = m.evaluate(m.display_renders(m.params("start"), [base + i for i in range(args.renders)]), seed=base)
        rows.append({"check": k, "seed_base": base, "oddity_pc": float(ev.criterion["oddity_pc"]),
                     "distance_ratio": float(ev.graded["distance_ratio"]), "null_p": float(ev.criterion["null_p"])})
    pc_max = float(cfg.criterion.oddity_pc_max)
    s = summarise(rows, pc_max)
    cmd = ".venv/bin/python benchmarks/criterion_null.py " + " ".join(argv if argv is not None else sys.argv[1:])
    md = (f"Scene {args.scene}, {args.display_renders} stored target renders, {args.renders} fresh renders of the "
          f"target's own parameters per check, {cfg.criterion.triplets} triplets per check, model {job.model}.\n\n"
          + md_table(["checks", "model pc mean", "sd", "ratio mean", "sd", f"checks with pc <= {pc_max}"],
                     [[s["checks"], f"{s['pc_mean']:.3f}", f"{s['pc_sd']:.3f}", f"{s['ratio_mean']:.4f}",
                       f"{s['ratio_sd']:.4f}", f"{s['pc_at_most_max']}/{s['checks']}"]])
          + "\n\nEvery check:\n\n"
          + md_table(["check", "model pc", "ratio", "null p"],
                     [[r["check"], f"{r['oddity_pc']:.3f}", f"{r['distance_ratio']:.4f}", f"{r['null_p']:.4f}"] for r in rows])
          + "\n")  # fmt: skip
    write_results(args.name, cmd.strip(), {"scene": args.scene, "renders": args.renders,
                                           "display_renders": args.display_renders, "summary": s, "rows": rows}, md)
    print(s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
