"""Material drift: does the loss rise when a material metamer runs past its stop? (issue 11)

Measured on the demo's ``blob_red`` (64 px, 2 views, 8 spp, MobileNetV2), material group, constant
learning rate 0.15, last iterate, no stopping, ``--steps`` steps; with the one-render gradient
estimator (``optimize.gradient = "same_render"``) and with the independent-residual one (the default,
:mod:`mrd.synthesis.objective`), each with the tone map's exact clip gradient (saturated pixels pass
no gradient) and with the surrogate gradient (:class:`mrd.render.tonemap.SurrogateClip`). Records the loss curve (mean of windows), the base
colour at those points, the saturated-pixel fraction of the final renders and the display-regime
distance ratio to a re-render.

Usage: ``python benchmarks/material_drift.py [--steps 120] [--update]`` (results in
benchmarks/results/material_drift.json and .md).

Examples
--------
>>> windows([1.0, 2.0, 3.0, 4.0], 2)
[1.5, 3.5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def windows(values: list[float], width: int) -> list[float]:
    """Means of consecutive windows of ``width`` values."""
    return [float(np.mean(values[i : i + width])) for i in range(0, len(values) - width + 1, width)]


def run(estimator: str, gradient: str, steps: int) -> dict:
    from mrd.config import load_config
    from mrd.render.tonemap import saturated_fraction
    from mrd.synthesis.generate import Generator

    cfg, _ = load_config(ROOT / "stimuli" / "sets" / "demo.toml")
    o = cfg.optimize.model_copy(update={"steps": steps, "stop_on_success": False, "lr_decay": "none",
                                        "iterate": "last", "mode": "demo", "gradient": estimator})  # fmt: skip
    cfg = cfg.model_copy(update={"optimize": o, "null": cfg.null.model_copy(update={"draws": 8})})
    gen = Generator(cfg, progress=False)
    job = next(j for j in cfg.jobs() if j.scene == "blob_red" and j.group == "material")
    m = gen.metamer(job)
    m.objective.clip_gradient = gradient
    colours = []
    t0 = time.perf_counter()
    for _ in range(steps // 10):
        m.synthesize(max_steps=10)
        colours.append([round(float(x), 4) for x in m.final["base_color"]])
    seconds = time.perf_counter() - t0
    rec = m.to_record()
    hdr = m.render()
    return {
        "estimator": estimator, "gradient": gradient, "steps": m.steps, "seconds": round(seconds, 1),
        "loss_windows_10": [round(x, 4) for x in windows(list(m.losses), 10)],
        "base_color_every_10": colours, "target_base_color": [round(float(x), 4) for x in m.target.params["material"]["base_color"]],
        "saturated_fraction_final": round(saturated_fraction(hdr), 4),
        "distance_ratio_final": rec.info["criterion_graded"]["distance_ratio"],
    }  # fmt: skip


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--update", action="store_true", help="write benchmarks/results/material_drift.*")
    a = ap.parse_args(argv)
    from mrd.render.variant import use_variant

    use_variant("llvm_ad_rgb")
    rows = [run(e, g, a.steps) for e, g in (("same_render", "clip"), ("same_render", "surrogate"),
                                            ("independent", "surrogate"), ("independent", "clip"))]
    for r in rows:
        print(json.dumps(r))
    if a.update:
        cmd = f"python benchmarks/material_drift.py --steps {a.steps} --update"
        (RESULTS / "material_drift.json").write_text(json.dumps({"command": cmd, "rows": rows}, indent=1) + "\n")
        lines = [f"# Material drift (`{cmd}`)", "", "| estimator | tone-map gradient | loss, mean of steps 1-10, 41-50, last 10 | base colour at 50 / end (target "
                 f"{rows[0]['target_base_color']}) | saturated | distance ratio |", "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        for r in rows:
            lw, bc = r["loss_windows_10"], r["base_color_every_10"]
            lines.append(f"| {r['estimator']} | {r['gradient']} | {lw[0]}, {lw[min(4, len(lw) - 1)]}, {lw[-1]} | {bc[min(4, len(bc) - 1)]} / {bc[-1]} | "
                         f"{r['saturated_fraction_final']} | {r['distance_ratio_final']} |")  # fmt: skip
        (RESULTS / "material_drift.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
