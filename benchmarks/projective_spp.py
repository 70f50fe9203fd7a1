"""Benchmark: sample counts of the shape gradient's continuous (``sppc``) and silhouette (``sppp``) terms.

The projective integrator (``direct_projective`` on the demo's direct light) estimates a vertex
gradient from two terms with their own sample counts (:func:`mrd.render.renderer.render_projective`
makes them hold). Two studies, each interleaving every setting within one run:

**Gradients** (``--part grad``; default 128 px, 16 spp, 2 views, the default model). For several
start/target pairs (the demo's icosphere start for ``blob_red``, and prior draws as starts for
``blob_red`` and ``blob_green``) and seeds, each setting (sppc, sppp) computes the gradient of the
objective (tone map, model, ``rel_l2`` distance of the render's activations to the target's) with
respect to the LargeSteps latent that Adam updates. Within a seed every setting sees the *same*
primal image (same seed and primal spp), so the same image gradient: only the render backward
differs. Reported: render forward and backward time (median over seeds; the backward includes
``dr.traverse`` only), backward / forward, and the cosine of the gradient to a reference gradient
(the mean of ``--ref-draws`` gradients at a high count, on other seeds; its reliability is the cosine
between its two halves), per pair and overall. ``today`` is the setting before this study: both
counts equal to the render's spp.

**Optimisations** (``--part opt``; 64 px, 8 spp, 2 views as the demo). Whole shape optimisations
(:func:`mrd.synthesis.optimize.optimize`, the demo's shape learning rate and LargeSteps) from the
demo's start for both demo scenes, a few seeds, a fixed number of steps. Reported: wall time (steps x
the median step time after the first three steps, so that kernel compilation does not count), the
final loss (mean of the last 5 steps) and the **display distance ratio**: the model's ``rel_l2``
activation distance of the result's display render to the target's, over the distance between two
independent display renders of the target (1 = as close as a re-render).

Run::

    .venv/bin/python benchmarks/projective_spp.py                 # both parts (~15 min on 2 cores)
    .venv/bin/python benchmarks/projective_spp.py --part grad --seeds 4

Results: ``benchmarks/results/projective_spp.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Case, Setup, make_setup, md_table, sync, write_results  # noqa: E402

GRID = [(0, 0), (16, 4), (16, 2), (16, 1), (32, 2), (8, 1)]
"""(sppc, sppp) settings of the gradient study; (0, 0) = today (both the render's spp)."""
OPT_GRID = [(0, 0), (16, 2), (8, 1), (32, 2)]
"""(sppc, sppp) settings of the optimisation study."""
REF = (64, 16)
"""Sample counts of each reference-gradient draw."""


def label(c: tuple[int, int]) -> str:
    """``"today"`` for (0, 0), else ``"sppc/sppp"``.

    Examples
    --------
    >>> label((0, 0)), label((32, 4))
    ('today', '32/4')
    """
    return "today" if c == (0, 0) else f"{c[0]}/{c[1]}"


def integrator_for(s: Setup, c: tuple[int, int]) -> Any:
    """The shipped projective integrator of the setup's layout with sample counts ``c``."""
    import mitsuba as mi

    from mrd.render.renderer import projective_integrator

    return mi.load_dict(projective_integrator(s.renderer.layout.max_depth, 0, c[0], c[1]))


# -- the gradient study --------------------------------------------------------------------------
def pair_setups(case: Case) -> list[tuple[str, Setup]]:
    """The start/target pairs: icosphere start (blob_red), prior-draw starts (blob_red, blob_green)."""
    import numpy as np
    from _common import demo_config

    from mrd.groups import get_group

    out = [("icosphere->blob_red", make_setup(case, scene_id="blob_red"))]
    cfg, group = demo_config(), get_group("shape")
    for scene, seed in (("blob_red", 11), ("blob_green", 12)):
        s = make_setup(case, scene_id=scene)
        start = group.draw(cfg, s.target_params["shape"], np.random.default_rng(seed))
        s.start, s.group = start, group.parametrise(start, cfg, s.target_params)
        s.renderer.set_params({"shape": start}, ("shape",))
        out.append((f"prior{seed}->{scene}", s))
    return out


def gradient(s: Setup, integ: Any, seed: int) -> tuple[Any, tuple[float, float], tuple[float, float]]:
    """Objective gradient w.r.t. the LargeSteps latent (numpy); render forward and backward (wall, CPU) seconds."""
    import drjit as dr
    import mitsuba as mi
    import numpy as np
    import torch

    from mrd.groups.shape import KEYS
    from mrd.render.renderer import render_projective
    from mrd.render.tonemap import tonemap_torch
    from mrd.synthesis.similarity import activation_distance

    ren, spp = s.renderer, s.case.spp
    v0 = s.group.vertices(s.group.init())
    v = mi.Float(v0.astype(np.float32).ravel())
    dr.enable_grad(v)
    ren.write(KEYS["vertices"], v)
    ren.update()
    sync()
    c0, t0 = time.process_time(), time.perf_counter()
    imgs = [render_projective(ren.scene, ren.params, i, spp, (seed * 7 + i) % (1 << 32), integ)
            for i in range(ren.n_views)]  # fmt: skip
    dr.eval(imgs)
    sync()
    c1, t1 = time.process_time(), time.perf_counter()
    x = torch.stack([dr.detach(i).torch() for i in imgs]).permute(0, 3, 1, 2).detach().requires_grad_(True)
    loss = activation_distance(s.model.features(tonemap_torch(x, s.objective.exposure)), s.objective.target,
                               kind=s.objective.kind)
    loss.backward()
    g_img = x.grad.permute(0, 2, 3, 1).contiguous()
    sync()
    c2, t2 = time.process_time(), time.perf_counter()
    for i, img in enumerate(imgs):
        dr.set_grad(img, mi.TensorXf(g_img[i]))
        dr.enqueue(dr.ADMode.Backward, img)
    dr.traverse(dr.ADMode.Backward)
    gv = dr.grad(v)
    dr.eval(gv)
    sync()
    c3, t3 = time.process_time(), time.perf_counter()
    # the latent's gradient: the transpose of the LargeSteps map applied to the vertex gradient
    u = s.group.init()["u"]
    dr.enable_grad(u)
    dr.backward(dr.sum(s.group.largesteps.from_differential(u) * dr.detach(gv)))
    gu = np.asarray(dr.grad(u), np.float64).copy()
    ren.write(KEYS["vertices"], mi.Float(v0.astype(np.float32).ravel()))
    ren.update()
    return gu, (t1 - t0, c1 - c0), (t3 - t2, c3 - c2)


def cosine(a: Any, b: Any) -> float:
    """Cosine of two flat vectors.

    Examples
    --------
    >>> import numpy as np
    >>> round(cosine(np.array([1.0, 0.0]), np.array([1.0, 1.0])), 4)
    0.7071
    """
    import numpy as np

    return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-300))


def grad_study(case: Case, seeds: int, ref_draws: int, grid: list[tuple[int, int]],
               save: Any = None) -> dict[str, Any]:
    """Every (pair, seed, setting): times and cosine to the reference (see the module docstring)."""
    import numpy as np

    rows: list[dict[str, Any]] = []
    refs: dict[str, Any] = {}
    for name, s in pair_setups(case):
        integs = {c: integrator_for(s, c) for c in grid}
        ref_integ = integrator_for(s, REF)
        gradient(s, ref_integ, 10**6)  # compile the kernels once
        draws = [gradient(s, ref_integ, 10**6 + 1 + k)[0] for k in range(ref_draws)]
        ref = np.mean(draws, axis=0)
        half = cosine(np.mean(draws[::2], axis=0), np.mean(draws[1::2], axis=0))
        refs[name] = {"draws": ref_draws, "counts": REF, "half_cosine": half}
        print(f"{name}: reference of {ref_draws} draws at {REF}, halves cosine {half:.3f}", flush=True)
        for c in grid:
            gradient(s, integs[c], 999)  # warm-up of this setting's kernels
        for seed in range(seeds):
            for c in grid:
                g, tf, tb = gradient(s, integs[c], seed)
                rows.append({"pair": name, "seed": seed, "sppc": c[0], "sppp": c[1], "setting": label(c),
                             "forward_s": tf[0], "backward_s": tb[0], "forward_cpu_s": tf[1],
                             "backward_cpu_s": tb[1], "cosine": cosine(g, ref)})
            print(f"  seed {seed}: " + ", ".join(f"{r['setting']} {r['cosine']:.2f}/{1e3 * r['backward_s']:.0f}ms"
                                                  for r in rows[-len(grid):]), flush=True)
        if save is not None:
            save({"rows": rows, "references": refs})
    return {"rows": rows, "references": refs}


def grad_summary(rows: list[dict[str, Any]], grid: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Per setting: median forward/backward ms, backward/forward, mean cosine overall and per pair."""
    import numpy as np

    pairs = sorted({r["pair"] for r in rows})
    out = []
    for c in grid:
        rs = [r for r in rows if (r["sppc"], r["sppp"]) == c]
        fw, bw = np.median([r["forward_s"] for r in rs]), np.median([r["backward_s"] for r in rs])
        ratio = np.median([r["backward_s"] / r["forward_s"] for r in rs])
        cpu = np.median([r["backward_cpu_s"] / r["forward_cpu_s"] for r in rs])
        out.append({"setting": label(c), "sppc": c[0], "sppp": c[1], "forward_ms": 1e3 * fw, "backward_ms": 1e3 * bw,
                    "backward_over_forward": float(ratio),
                    "backward_over_forward_cpu": float(cpu),
                    "backward_cpu_ms": 1e3 * float(np.median([r["backward_cpu_s"] for r in rs])), "cosine": float(np.mean([r["cosine"] for r in rs])),
                    "cosine_sd": float(np.std([r["cosine"] for r in rs])),
                    "per_pair": {p: float(np.mean([r["cosine"] for r in rs if r["pair"] == p])) for p in pairs}})
    base, base_cpu = out[0]["backward_ms"], out[0]["backward_cpu_ms"]
    for o in out:
        o["backward_vs_today"] = o["backward_ms"] / base
        o["backward_cpu_vs_today"] = o["backward_cpu_ms"] / base_cpu
    return out


# -- the optimisation study ----------------------------------------------------------------------
def display_ratio(s: Setup, values: dict[str, Any], spp: int, seed: int) -> float:
    """Model distance of the result's display render to the target's / of two target display renders."""
    from mrd.render.tonemap import display_image
    from mrd.synthesis.similarity import activation_distance, display_to_tensor

    ren, m = s.renderer, s.model

    def feats(p: dict[str, Any], k: int) -> dict[str, Any]:
        ren.set_params(p, ("shape",))
        x = display_to_tensor(display_image(ren.render_display(spp, seed + k), s.objective.exposure))
        return m.features(x.to(m.device))

    import torch

    with torch.no_grad():
        t1, t2 = feats({"shape": s.target_params["shape"]}, 0), feats({"shape": s.target_params["shape"]}, 1)
        mm = feats({"shape": values}, 2)
        ratio = float(activation_distance(mm, t1)) / float(activation_distance(t2, t1))
    ren.set_params({"shape": s.start}, ("shape",))
    return ratio


def opt_study(case: Case, seeds: int, steps: int, grid: list[tuple[int, int]], display_spp: int,
              save: Any = None) -> list[dict[str, Any]]:
    """Whole optimisations of every (scene, seed, setting), settings interleaved."""
    import numpy as np

    from mrd.synthesis.optimize import optimize
    from mrd.synthesis.stop import StopRule

    rows = []
    for seed in range(seeds):
        for scene in ("blob_red", "blob_green"):
            for c in grid:
                s = make_setup(case, scene_id=scene, seed=seed)
                s.renderer.integrators["projective"] = integrator_for(s, c)
                stamps: list[float] = []
                t0 = time.perf_counter()
                res = optimize(s.renderer, s.group, s.objective, lr=s.lr, spp=case.spp, seed=s.seeds.render,
                               rule=StopRule(steps=steps), on_step=lambda *_, st=stamps: st.append(time.perf_counter()))
                step_s = float(np.median(np.diff(stamps)[2:]))  # after the first steps' kernel compilation
                wall = step_s * steps
                ratio = display_ratio(s, res.final, display_spp, 5000 + seed)
                rows.append({"scene": scene, "seed": seed, "sppc": c[0], "sppp": c[1], "setting": label(c),
                             "wall_s": wall, "step_s": step_s, "total_s": stamps[-1] - t0, "final_loss": float(np.mean(res.loss[-5:])),
                             "display_ratio": ratio, "losses": [float(x) for x in res.loss]})
                print(f"opt {scene} seed {seed} {label(c)}: {wall:.1f}s loss {rows[-1]['final_loss']:.4f} "
                      f"ratio {ratio:.2f}", flush=True)
                if save is not None:
                    save(rows)
    return rows


def opt_summary(rows: list[dict[str, Any]], grid: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Per setting: median wall time (and relative to today's within each run), loss and display ratio."""
    import numpy as np

    out = []
    for c in grid:
        rs = [r for r in rows if (r["sppc"], r["sppp"]) == c]
        if not rs:
            continue
        rel = [r["wall_s"] / next(b["wall_s"] for b in rows if (b["sppc"], b["sppp"]) == grid[0]
                                  and b["scene"] == r["scene"] and b["seed"] == r["seed"]) for r in rs]
        out.append({"setting": label(c), "runs": len(rs), "wall_s": float(np.median([r["wall_s"] for r in rs])),
                    "wall_vs_today": float(np.median(rel)),
                    "final_loss": float(np.median([r["final_loss"] for r in rs])),
                    "display_ratio": float(np.median([r["display_ratio"] for r in rs])),
                    "display_ratio_max": float(np.max([r["display_ratio"] for r in rs]))})
    return out


def markdown(data: dict[str, Any]) -> str:
    """The tables."""
    out = []
    if "grad" in data:
        g = data["grad"]
        c = g["case"]
        pairs = sorted(g["references"])
        out.append(f"## Gradients: {c['resolution']} px, {c['spp']} spp, {c['views']} views, {c['model']}\n\n"
                   f"{g['seeds']} seeds x {len(pairs)} start/target pairs per setting; all settings interleaved "
                   "within each seed, and every setting of a seed sees the same primal image. Cosine: of the "
                   "LargeSteps-latent gradient to the reference (mean of "
                   f"{g['ref_draws']} draws at sppc/sppp {REF[0]}/{REF[1]}; cosine between its halves: "
                   + ", ".join(f"{p} {g['references'][p]['half_cosine']:.2f}" for p in pairs)
                   + "). Times: median render forward / backward of both views, wall clock and process CPU time (CPU time "
                   "counts the work of this process's threads, so it is the less load-sensitive cost on a shared "
                   "machine).\n")
        rows = [[s["setting"], f"{s['forward_ms']:.0f}", f"{s['backward_ms']:.0f}", f"{s['backward_over_forward']:.1f}",
                 f"{s['backward_vs_today']:.2f}", f"{s['backward_over_forward_cpu']:.1f}",
                 f"{s['backward_cpu_vs_today']:.2f}", f"{s['cosine']:.3f} +- {s['cosine_sd']:.3f}",
                 *[f"{s['per_pair'][p]:.3f}" for p in pairs]] for s in g["summary"]]
        out.append(md_table(["sppc/sppp", "fwd ms", "bwd ms", "bwd/fwd", "bwd vs today", "bwd/fwd (CPU time)",
                             "bwd vs today (CPU time)", "cosine (mean +- sd)",
                             *pairs], rows))
    if "opt" in data:
        o = data["opt"]
        c = o["case"]
        out.append(f"\n## Whole optimisations: {c['resolution']} px, {c['spp']} spp, {c['views']} views, "
                   f"{o['steps']} steps, demo scenes blob_red and blob_green, {o['seeds']} seeds\n\n"
                   "Display ratio: model distance of the result's display render to the target's, over that of two "
                   f"target display renders ({o['display_spp']} spp). Wall vs today: within each (scene, seed).\n")
        rows = [[s["setting"], s["runs"], f"{s['wall_s']:.1f}", f"{s['wall_vs_today']:.2f}", f"{s['final_loss']:.4f}",
                 f"{s['display_ratio']:.2f}", f"{s['display_ratio_max']:.2f}"] for s in o["summary"]]
        out.append(md_table(["sppc/sppp", "runs", "wall s = steps x median step (median)", "wall vs today", "final loss (median)",
                             "display ratio (median)", "display ratio (max)"], rows))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the studies and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("grad", "opt", "both"), default="both")
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--spp", type=int, default=16)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--ref-draws", type=int, default=24)
    ap.add_argument("--opt-seeds", type=int, default=2)
    ap.add_argument("--opt-steps", type=int, default=40)
    ap.add_argument("--name", default="projective_spp")
    args = ap.parse_args(argv)
    from dataclasses import asdict

    data: dict[str, Any] = {}
    cmd = ".venv/bin/python benchmarks/projective_spp.py " + " ".join(argv if argv is not None else sys.argv[1:])

    def write(partial: bool) -> None:
        data["complete"] = not partial
        write_results(args.name, cmd.strip(), data, ("**Partial: the run was still going.**\n\n" if partial else "")
                      + markdown(data))

    if args.part in ("grad", "both"):
        case = Case("shape", args.resolution, args.spp, "mobilenetv2_100")

        def save_grad(g: dict[str, Any]) -> None:
            data["grad"] = {"case": asdict(case), "seeds": args.seeds, "ref_draws": args.ref_draws, **g,
                            "summary": grad_summary(g["rows"], GRID)}
            write(partial=True)

        save_grad(grad_study(case, args.seeds, args.ref_draws, GRID, save_grad))
    if args.part in ("opt", "both"):
        case = Case("shape", 64, 8, "mobilenetv2_100")

        def save_opt(rows: list[dict[str, Any]]) -> None:
            data["opt"] = {"case": asdict(case), "seeds": args.opt_seeds, "steps": args.opt_steps, "display_spp": 256,
                           "rows": rows, "summary": opt_summary(rows, OPT_GRID)}
            write(partial=True)

        save_opt(opt_study(case, args.opt_seeds, args.opt_steps, OPT_GRID, 256, save_opt))
    write(partial=False)
    print(markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
