"""Benchmark: where the time of one optimisation step goes, and how close a step is to its parts.

For each case (group x resolution x spp x model) the script

1. times the **step**: the body of the shipped loop, :func:`mrd.synthesis.optimize.optimize` (parametrisation,
   ``params.update()``, ``render_views``, the :class:`mrd.synthesis.objective.Objective` through ``dr.wrap``,
   ``dr.backward``, Adam, the loss read-back), and, as a cross-check, a few steps of
   ``optimize()`` itself;
2. times the parts of a step *in isolation*, in the same process, interleaved with the steps
   (each round: two steps, then every part once) so that all are sampled under the same machine
   load (this machine is shared; medians over rounds are reported, and the ratio of minima):

   * **render forward**: ``Renderer.render_views`` of every view with gradient-tracking scene
     parameters, evaluated;
   * **render backward**: the adjoint pass from the images (a fixed random image gradient) to the
     scene parameters;
   * **model forward**: tone map, ``model.features`` of the view batch and the activation distance;
   * **model backward**: ``loss.backward()`` from the distance to the images;
   * **everything else**: writing the group's values into the scene (parametrisation forward and
     backward, ``params.update()``: for shape the LargeSteps solve and the BVH rebuild), the Dr.Jit
     <-> torch exchange of the images and their gradients, the similarity monitor, Adam, the loss
     read-back.

The **ratio** step / (sum of the parts) shows what the coupling costs over the floor set by the
parts; the target is <= 1.05.

Run::

    .venv/bin/python benchmarks/step_breakdown.py            # full grid (material+shape x 64/128/256 px
                                                             # x 4/16 spp x mobilenetv2_100/resnet50)
    .venv/bin/python benchmarks/step_breakdown.py --quick    # reduced grid (a few minutes on 2 cores)

Results: ``benchmarks/results/step_breakdown[_quick].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Case, Setup, make_setup, md_table, merge_with_previous, sync, write_results  # noqa: E402

PARTS = ("render_fwd", "render_bwd", "model_fwd", "model_bwd", "other")
OTHER_PARTS = ("param_fwd", "param_bwd", "exchange", "monitor", "adam")
TARGET_RATIO = 1.05


def full_grid() -> list[Case]:
    """The full grid of the issue."""
    return [Case(g, r, s, m) for m, g, r, s in itertools.product(
        ("mobilenetv2_100", "resnet50"), ("material", "shape"), (64, 128, 256), (4, 16))]


def quick_grid() -> list[Case]:
    """A reduced grid that runs in a few minutes on 2 cores."""
    return [Case("material", 64, 4, "mobilenetv2_100"), Case("shape", 64, 4, "mobilenetv2_100"),
            Case("material", 128, 16, "mobilenetv2_100"), Case("shape", 128, 16, "mobilenetv2_100"),
            Case("material", 64, 4, "resnet50")]


# -- the step and its parts ------------------------------------------------------------------
def time_optimize(s: Setup, steps: int, warmup: int) -> float:
    """Median step time of the shipped loop, :func:`mrd.synthesis.optimize.optimize` (after ``warmup`` steps)."""
    import numpy as np

    from mrd.synthesis.optimize import optimize
    from mrd.synthesis.stop import StopRule

    stamps: list[float] = []
    t0 = time.perf_counter()
    optimize(s.renderer, s.group, s.objective, lr=s.lr, spp=s.case.spp, seed=s.seeds.render,
             rule=StopRule(steps=warmup + steps),
             on_step=lambda *_: stamps.append(time.perf_counter()))
    d = np.diff([t0, *stamps])
    s.renderer.set_params({s.case.group: s.start}, (s.case.group,))
    return float(np.median(d[warmup:]))


class StepBench:
    """One case's step (the body of :func:`mrd.synthesis.optimize.optimize`'s loop) and its parts in isolation.

    Each method runs one sample and returns ``{name: seconds}``; :func:`measure` interleaves them so
    that every quantity is sampled under the same machine load.
    """

    def __init__(self, s: Setup) -> None:
        import drjit as dr
        import mitsuba as mi
        import numpy as np
        import torch

        self.s, self.dr, self.mi, self.torch = s, dr, mi, torch
        self.opt = mi.ad.Adam(lr=s.lr, uniform=s.group.uniform)
        for k, v in s.group.init().items():
            self.opt[k] = v
        self.n = 0
        ren = s.renderer
        w, h = ren.layout.size
        rng = np.random.default_rng(0)
        self.img_grads = [mi.TensorXf(rng.standard_normal((h, w, 3)).astype(np.float32) * 1e-3)
                          for _ in range(ren.n_views)]
        self.latents = s.group.init()
        for v in self.latents.values():
            dr.enable_grad(v)
        self.adam = mi.ad.Adam(lr=s.lr, uniform=s.group.uniform)
        for k, v in s.group.init().items():
            self.adam[k] = v
        self.imgs: list[Any] = []
        self.x0 = None

    def step(self) -> dict[str, float]:
        """One optimisation step exactly as the shipped loop runs it."""
        s, dr = self.s, self.dr
        t0 = time.perf_counter()
        s.group.apply(self.opt, s.renderer)
        s.renderer.update()
        images = s.renderer.render_views(s.case.spp, s.seeds.render + self.n * s.renderer.n_views, s.group.integrator)
        loss = s.objective(images)
        dr.backward(loss)
        self.opt.step()
        float(loss.array[0])
        _ = s.objective.last_similarity
        self.n += 1
        return {"step": time.perf_counter() - t0}

    def render(self) -> dict[str, float]:
        """Render forward and backward from gradient-tracking leaf values of the group."""
        s, dr, mi = self.s, self.dr, self.mi
        vals = s.group.values(self.opt)
        if s.case.group == "shape":
            from mrd.groups.shape import KEYS

            v = mi.Float(vals["vertices"].astype("float32").ravel())
            dr.enable_grad(v)
            s.renderer.write(KEYS["vertices"], v)
        else:
            from mrd.groups.material import material_key
            from mrd.render.renderer import to_drjit

            for k in s.group.vary:
                v = to_drjit(vals[k])
                dr.enable_grad(v)
                s.renderer.write(material_key(s.renderer.layout, k), v)
        s.renderer.update()
        sync()
        self.n += 1
        t0 = time.perf_counter()
        imgs = s.renderer.render_views(s.case.spp, s.seeds.render + self.n * s.renderer.n_views, s.group.integrator)
        dr.eval(imgs)
        sync()
        t1 = time.perf_counter()
        for img, g in zip(imgs, self.img_grads, strict=True):
            dr.set_grad(img, g)
            dr.enqueue(dr.ADMode.Backward, img)
        dr.traverse(dr.ADMode.Backward)
        sync()
        t2 = time.perf_counter()
        self.imgs = [dr.detach(i) for i in imgs]
        if self.x0 is None:
            self.x0 = self.torch.stack([i.torch() for i in self.imgs]).permute(0, 3, 1, 2).detach().clone()
        return {"render_fwd": t1 - t0, "render_bwd": t2 - t1}

    def model(self) -> dict[str, float]:
        """Tone map + features + distance forward, and its backward to the images."""
        from mrd.render.tonemap import tonemap_torch
        from mrd.synthesis.similarity import activation_distance

        s = self.s
        sync()
        t0 = time.perf_counter()
        x = self.x0.clone().requires_grad_(True)
        feats = s.model.features(tonemap_torch(x, s.objective.exposure))
        loss = activation_distance(feats, s.objective.target, kind=s.objective.kind)
        sync()
        t1 = time.perf_counter()
        loss.backward()
        sync()
        t2 = time.perf_counter()
        self.feats = {k: v.detach() for k, v in feats.items()}
        self.loss = loss.detach()
        return {"model_fwd": t1 - t0, "model_bwd": t2 - t1}

    def other(self) -> dict[str, float]:
        """Parametrisation forward/backward, the Dr.Jit <-> torch exchange, the monitor, Adam."""
        from mrd.synthesis.similarity import layer_similarity

        s, dr, mi, torch = self.s, self.dr, self.mi, self.torch
        lat = self.latents
        out = {}
        t0 = time.perf_counter()
        s.group.apply(lat, s.renderer)
        s.renderer.update()
        sync()
        out["param_fwd"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if s.case.group == "shape":
            vals = [s.group.largesteps.from_differential(lat["u"])]
        else:
            vals = [s.group._physical(k, lat[k]) for k in s.group.vary]
        for v in vals:
            dr.set_grad(v, 1e-3)
            dr.enqueue(dr.ADMode.Backward, v)
        dr.traverse(dr.ADMode.Backward)
        dr.eval([dr.grad(v) for v in lat.values()])
        sync()
        out["param_bwd"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        xs = torch.stack([img.torch() for img in self.imgs]).permute(0, 3, 1, 2)
        back = [mi.TensorXf(g) for g in (xs * 1e-3).permute(0, 2, 3, 1).contiguous().unbind(0)]
        dr.eval(back)
        sync()
        out["exchange"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cos, _ = layer_similarity(self.feats, s.objective.target)
        float(cos.mean())
        float(self.loss)
        out["monitor"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        keys = list(self.adam.keys())
        for k in keys:
            dr.set_grad(self.adam[k], 1e-3)
        self.adam.step()
        dr.eval([self.adam[k] for k in keys])
        sync()
        out["adam"] = time.perf_counter() - t0
        return out


def measure(s: Setup, rounds: int, warmup: int, steps_per_round: int = 2) -> dict[str, list[float]]:
    """Interleaved samples: each round runs ``steps_per_round`` steps, then every part once."""
    b = StepBench(s)
    samples: dict[str, list[float]] = {}
    for r in range(warmup + rounds):
        got: list[dict[str, float]] = [b.step() for _ in range(steps_per_round)]
        got += [b.render(), b.model(), b.other()]
        if r >= warmup:
            for d in got:
                for k, v in d.items():
                    samples.setdefault(k, []).append(v)
    s.renderer.set_params({s.case.group: s.start}, (s.case.group,))
    return samples


def run_case(case: Case, rounds: int, warmup: int, optimize_steps: int) -> dict[str, Any]:
    """Step time, part times and their ratio for one case."""
    import numpy as np

    t0 = time.perf_counter()
    s = make_setup(case)
    setup_s = time.perf_counter() - t0
    samples = measure(s, rounds, warmup)
    med = {k: float(np.median(v)) for k, v in samples.items()}
    low = {k: float(np.min(v)) for k, v in samples.items()}
    for d in (med, low):
        d["other"] = sum(d[k] for k in OTHER_PARTS)
    total, total_min = sum(med[k] for k in PARTS), sum(low[k] for k in PARTS)
    shipped = time_optimize(s, optimize_steps, warmup) if optimize_steps else None
    return {"case": case.__dict__, "label": case.label, "setup_s": setup_s, "step_s": med["step"],
            "parts_s": {k: med[k] for k in (*PARTS, *OTHER_PARTS)}, "sum_parts_s": total, "ratio": med["step"] / total,
            "min_step_s": low["step"], "min_parts_s": {k: low[k] for k in (*PARTS, *OTHER_PARTS)},
            "ratio_of_minima": low["step"] / total_min, "optimize_step_s": shipped, "samples_s": samples}


def markdown(results: list[dict[str, Any]]) -> str:
    """The results table."""
    headers = ["group", "px", "spp", "model", "step ms", "render fwd", "render bwd", "model fwd", "model bwd",
               "other", "sum ms", "ratio", "ratio of minima", "optimize() step ms"]
    rows = []
    for r in results:
        c, p = r["case"], r["parts_s"]
        rows.append([c["group"], c["resolution"], c["spp"], c["model"], f"{1e3 * r['step_s']:.0f}",
                     *(f"{1e3 * p[k]:.0f}" for k in PARTS), f"{1e3 * r['sum_parts_s']:.0f}", f"{r['ratio']:.2f}",
                     f"{r['ratio_of_minima']:.2f}",
                     "-" if r["optimize_step_s"] is None else f"{1e3 * r['optimize_step_s']:.0f}"])
    other_rows = [[r["label"], *(f"{1e3 * r['parts_s'][k]:.1f}" for k in OTHER_PARTS)] for r in results]
    ratios = [r["ratio"] for r in results]
    return (
        f"Times in ms (medians); {results[0]['case']['views']} views per step; ratio = step / sum of parts "
        f"(target <= {TARGET_RATIO}). Ratios range {min(ratios):.2f} to {max(ratios):.2f}.\n\n"
        + md_table(headers, rows) + "\n\n'other' split (ms):\n\n"
        + md_table(["case", *OTHER_PARTS], other_rows) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the grid and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="reduced grid (a few minutes on 2 cores)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="interleaved rounds (2 steps + every part) per case (default 6 quick, 10 full)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed rounds first (kernels compile)")
    ap.add_argument("--optimize-steps", type=int, default=5,
                    help="also time this many steps of the shipped optimize() as a cross-check (0: skip)")
    ap.add_argument("--only", default=None, help="run cases whose label contains this text")
    ap.add_argument("--name", default=None, help="result file name (default step_breakdown[_quick])")
    ap.add_argument("--update", action="store_true",
                    help="replace only the cases run now in an existing result file (e.g. re-measure noisy ones)")
    args = ap.parse_args(argv)
    cases = quick_grid() if args.quick else full_grid()
    if args.only:
        cases = [c for c in cases if args.only in c.label]
    rounds = args.rounds or (6 if args.quick else 10)
    from tqdm import tqdm

    results = []
    for case in tqdm(cases, desc="step breakdown", unit="case"):
        r = run_case(case, rounds, args.warmup, args.optimize_steps)
        tqdm.write(f"{case.label}: step {1e3 * r['step_s']:.0f} ms, parts {1e3 * r['sum_parts_s']:.0f} ms, "
                   f"ratio {r['ratio']:.2f}")
        results.append(r)
    name = args.name or ("step_breakdown_quick" if args.quick else "step_breakdown")
    cmd = ".venv/bin/python benchmarks/step_breakdown.py " + " ".join(argv if argv is not None else sys.argv[1:])
    commands = [cmd.strip()]
    if args.update:
        results, commands = merge_with_previous(name, results, "results", lambda r: r["label"], cmd.strip())
    write_results(name, " ; ".join(commands), {"target_ratio": TARGET_RATIO, "rounds": rounds, "warmup": args.warmup,
                                               "commands": commands, "results": results}, markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
