"""Benchmark: generate true metamers of the demo scenes, then recheck them independently on fresh renders.

``mrd generate stimuli/sets/demo_true.toml`` (the experiment mode: material metamers, spp ramp, two
consecutive confirmed passing checks) into a fresh store, timed; then
:func:`mrd.synthesis.recheck.recheck`, which does not reuse a single stored render: it renders the
target and every metamer again from the stored *parameters* with new seeds, draws fresh null scenes
from the prior and lets the generating model pick the odd item on ``--triplets`` triplets each. A
metamer flagged successful should be picked on at most 45 % of them; null draws far more often.
``--rechecks K`` repeats the recheck with K independent seed bases (fresh renders each time): the
triplets of one recheck share its renders, so only repeats show how much a verdict moves with them.

Run::

    .venv/bin/python benchmarks/true_metamer_recheck.py --triplets 1000 --renders 16 --rechecks 3

Results: ``benchmarks/results/true_metamer_recheck.json`` and ``.md``.

Examples
--------
>>> CONFIG.name
'demo_true.toml'
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, bench_variant, md_table, write_results  # noqa: E402

CONFIG = ROOT / "stimuli" / "sets" / "demo_true.toml"


def summary_rows(store: Path) -> list[dict[str, Any]]:
    """Per stored metamer: steps, stop reason, stored verdict and its numbers."""
    from stimuli import StimulusSet

    rows = []
    with StimulusSet(store) as s:
        for mid in s.metamer_ids:
            m = s.metamer(mid, images=False)
            rows.append({"metamer": mid, "steps": int(m.steps), "stop": m.info.get("stop_reason", "?"),
                         "success": bool(m.success), "oddity_pc": float(m.criterion["oddity_pc"]),
                         "null_p": float(m.criterion["null_p"]),
                         "ratio": float(m.info["criterion_graded"].get("distance_ratio", float("nan"))),
                         "wall_s": float(m.wall_time_s)})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    """Generate, recheck, write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--triplets", type=int, default=1000)
    ap.add_argument("--renders", type=int, default=16)
    ap.add_argument("--nulls", type=int, default=4)
    ap.add_argument("--rechecks", type=int, default=3, help="independent rechecks (seed bases)")
    ap.add_argument("--out", default=None, help="store path (default: a temporary folder)")
    args = ap.parse_args(argv)
    from mrd.synthesis.generate import generate
    from mrd.synthesis.recheck import RECHECK_SEED, recheck

    variant = bench_variant()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(args.out) if args.out else Path(tmp) / "demo_true.h5"
        t0 = time.perf_counter()
        generate(CONFIG, store, variant=variant, progress=True)
        gen_s = time.perf_counter() - t0
        stored = summary_rows(store)
        t0 = time.perf_counter()
        results = [recheck(store, triplets=args.triplets, renders=args.renders, nulls=args.nulls, variant=variant,
                           progress=True, seed=RECHECK_SEED + 1000 * k) for k in range(args.rechecks)]  # fmt: skip
        re_s = (time.perf_counter() - t0) / max(1, args.rechecks)
    rows = [{"recheck": k, "seed": RECHECK_SEED + 1000 * k, "unit": r.unit, "kind": r.kind,
             "stored_success": r.stored_success, "pc": r.pc, "n": r.n, "ci_low": r.ci_low, "ci_high": r.ci_high,
             "pc_all": r.pc_all, "se_renders": r.se_renders, "distance_ratio": r.distance_ratio}
            for k, res in enumerate(results) for r in res.rows]  # fmt: skip
    ok = [r for r in rows if r["kind"] == "metamer" and r["stored_success"]]
    bad = sorted({f"{r['unit']} (recheck {r['recheck']}: {r['pc']:.3f})" for r in ok if r["pc"] > 0.45})
    null_pc = sorted(r["pc"] for r in rows if r["kind"] == "null")
    n_ok = len({r["unit"] for r in ok})
    cmd = ".venv/bin/python benchmarks/true_metamer_recheck.py " + " ".join(argv if argv is not None else sys.argv[1:])
    pcs = [r["pc"] for r in ok]
    verdict = (f"{n_ok} of {len(stored)} metamers stored as successful; in {args.rechecks} independent rechecks "
               f"each, picked on {min(pcs, default=float('nan')):.3f}-{max(pcs, default=float('nan')):.3f} of fresh "
               f"triplets; above 45 %: {len(bad)} {bad}; null draws: pc {null_pc[0]:.3f}-{null_pc[-1]:.3f}.")
    md = (f"`mrd generate {CONFIG.relative_to(ROOT)}`: {gen_s:.0f} s; one recheck ({args.triplets} triplets, "
          f"{args.renders} fresh renders each, {args.nulls} fresh null draws per scene): {re_s:.0f} s.\n\n"
          f"**{verdict}**\n\nStored verdicts (the store's own renders):\n\n"
          + md_table(["metamer", "steps", "stop", "success", "model pc", "null p", "ratio", "s"],
                     [[r["metamer"], r["steps"], r["stop"], "yes" if r["success"] else "no", f"{r['oddity_pc']:.3f}",
                       f"{r['null_p']:.4f}", f"{r['ratio']:.3f}", f"{r['wall_s']:.0f}"] for r in stored])
          + "\n\nIndependent rechecks (fresh renders of the stored parameters; fresh null draws; pc: sampled "
          "triplets with their binomial interval; pc all: every distinct triplet; se R: its render-level "
          "standard error, conservative):\n\n"
          + md_table(["recheck", "unit", "kind", "stored success", "pc", "95 % CI", "pc all", "se R", "ratio"],
                     [[str(r["recheck"]), r["unit"], r["kind"],
                       "-" if r["stored_success"] is None else ("yes" if r["stored_success"] else "no"),
                       f"{r['pc']:.3f}", f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]",
                       "-" if r["pc_all"] is None else f"{r['pc_all']:.3f}",
                       "-" if r["se_renders"] is None else f"{r['se_renders']:.3f}", f"{r['distance_ratio']:.3f}"]
                      for r in rows]) + "\n")  # fmt: skip
    write_results("true_metamer_recheck", cmd.strip(),
                  {"config": str(CONFIG.relative_to(ROOT)), "generate_s": gen_s, "recheck_s": re_s,
                   "triplets": args.triplets, "renders": args.renders, "rechecks": args.rechecks, "stored": stored, "recheck": rows,
                   "successful_picked_over_45pct": bad}, md)  # fmt: skip
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
