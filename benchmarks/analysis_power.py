"""Benchmark: `mrd power` on a demo-sized stimulus set (target: under 2 minutes on the 2-core machine).

The demo set (stimuli/sets/demo.toml) has 2 scenes x 2 groups (material, shape) x 1 model = 4 metamers
with 2 views; a synthetic store of that shape (:func:`analysis.synthetic.make_store`) stands in for
it, so the benchmark needs no renderer. ``mrd power`` then runs with its default grid (participants
4, 8, 16 x repeats 5, 10; 100 simulated studies per point: 600 Laplace fits) through
:func:`analysis.commands.main`, in this process.

Run::

    .venv/bin/python benchmarks/analysis_power.py

Results go to ``benchmarks/results/analysis_power.json`` and ``.md``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.commands import main as cli  # noqa: E402
from analysis.synthetic import make_store  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TARGET_S = 120.0
COMMAND = ".venv/bin/python benchmarks/analysis_power.py"


def main() -> int:
    """Run the benchmark and write its results."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = make_store(
            root / "demo_like.h5",
            n_scenes=2,
            metamers_per_scene=1,
            groups=("material", "shape"),
            models=("mobilenetv2_100",),
            n_views=2,
            size=16,
        )
        cpu0, t0 = time.process_time(), time.perf_counter()
        rc = cli(["power", "--stimuli", str(store), "--out", str(root / "power"), "--quiet"])
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        import pandas as pd

        table = pd.read_csv(root / "power" / "power.csv")
    out = {
        "command": COMMAND,
        "cli": "mrd power --stimuli DEMO_LIKE.h5 --out OUT (defaults: participants 4,8,16; repeats 5,10; "
        "n_sims 100; effect -0.5 log-odds per SD of similarity)",
        "exit_status": rc,
        "wall_s": wall,
        "cpu_s": cpu,
        "target_s": TARGET_S,
        "meets_target": wall < TARGET_S,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": load_before,
            "load_after": os.getloadavg(),
        },
        "power": table.to_dict("records"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "analysis_power.json").write_text(json.dumps(out, indent=2))
    lines = [
        "# `mrd power` on a demo-sized set",
        "",
        f"Command: `{COMMAND}` ({out['cli']}). Wall {wall:.1f} s, CPU {cpu:.1f} s (target {TARGET_S:.0f} s: "
        f"{'met' if out['meets_target'] else 'missed'}); load {load_before[0]:.1f} before, "
        f"{out['machine']['load_after'][0]:.1f} after, {out['machine']['cpus']} CPUs.",
        "",
        "| participants | repeats | items | power | 95% CI | mean estimate | mean SE |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in out["power"]:
        lines.append(
            f"| {r['participants']} | {r['repeats']} | {r['items']} | {r['power']:.2f} | "
            f"{r['power_lo']:.2f}-{r['power_hi']:.2f} | {r['mean_estimate']:.3f} | {r['mean_se']:.3f} |"
        )
    (RESULTS / "analysis_power.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
