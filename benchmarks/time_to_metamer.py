"""Benchmark: steps and seconds to a successful metamer under different optimisation settings.

Each metamer job of a config is optimised the way :meth:`mrd.generate.Generator.metamer` does it
(same start draw, objective target of noisy renders, null reference at the optimisation settings,
seeds), with the generator's stop rule: the mean step similarity of the last 5 steps has gone
``success_fraction`` of the way from the null maximum to the noise ceiling (the similarity of
fresh target renders at the optimisation spp; :class:`mrd.optimize.StopRule`). Reported per run:

* **steps** and **seconds** to that criterion (seconds include building the objective target and the
  null reference of every stage; not the final display render and scoring, which every setting
  pays alike); a run that never meets it counts its whole budget and is a failure;
* **display success**: the generator's own verdict on the result (the display render scored
  against the target's display under the null reference, :func:`mrd.similarity.score_images`).

Settings compared (each applied to the config's own values):

* ``shipped``: the config as it is;
* ``lr x0.5``, ``lr x2``, ``lr x4``, ``lr x8``: the varied group's learning rate scaled;
* ``lambda 5``, ``lambda 50``: the LargeSteps smoothness (shape only);
* ``c2f res``: coarse to fine: half resolution first (up to 60 % of the step budget, leaving as soon
  as the coarse stage meets the criterion), then full resolution for the rest;
* ``c2f spp``: a quarter of the spp first, then the full spp;
* ``c2f res+spp``: both ramps together;
* ``fraction 0.5``: the stricter success threshold half-way to the ceiling (how many more steps it costs).

Configs: the demo config (``stimuli/sets/demo.toml``) and a CPU-sized slice of the pilot config
(``--pilot``: its priors, learning rates, LargeSteps, remeshing and null settings, but 64 px,
2 views, 8 spp, 8 null draws, 128 display spp, the default model; the step cap is the config's,
``--steps`` overrides it). ``--resolution`` renders either config at another size (do the rates hold
at a larger image?).

Run::

    .venv/bin/python benchmarks/time_to_metamer.py --quick        # demo scene blob_red, seed 0, two settings
    .venv/bin/python benchmarks/time_to_metamer.py                # demo, seeds 0-2, every setting
    .venv/bin/python benchmarks/time_to_metamer.py --pilot        # the pilot slice

Results: ``benchmarks/results/time_to_metamer[_quick|_pilot].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEMO, PILOT, bench_device, bench_variant, md_table, merge_with_previous, write_results  # noqa: E402


@dataclass(frozen=True)
class Setting:
    """An optimisation setting: scalings of the config's values and a stage schedule.

    ``stages`` is a list of ``(resolution scale, spp scale, share of the step budget)``; the last
    stage gets whatever budget is left.
    """

    name: str
    lr_scale: float = 1.0
    lambda_: float | None = None
    fraction: float | None = None
    stages: tuple[tuple[float, float, float], ...] = ((1.0, 1.0, 1.0),)
    groups: tuple[str, ...] = ("shape", "material", "lighting")


SETTINGS = [
    Setting("shipped"),
    Setting("lr x0.5", lr_scale=0.5),
    Setting("lr x2", lr_scale=2.0),
    Setting("lr x4", lr_scale=4.0),
    Setting("lr x8", lr_scale=8.0),
    Setting("lambda 5", lambda_=5.0, groups=("shape",)),
    Setting("lambda 50", lambda_=50.0, groups=("shape",)),
    Setting("c2f res", stages=((0.5, 1.0, 0.6), (1.0, 1.0, 1.0))),
    Setting("c2f spp", stages=((1.0, 0.25, 0.6), (1.0, 1.0, 1.0))),
    Setting("c2f res+spp", stages=((0.5, 0.25, 0.6), (1.0, 1.0, 1.0))),
    Setting("fraction 0.5", fraction=0.5),
]
QUICK = ("shipped", "lr x2")


@dataclass
class _Ctx:
    gen: Any
    renderers: dict[tuple[str, int], Any] = field(default_factory=dict)


def load(path: Path, pilot: bool, steps: int | None, resolution: int | None = None) -> Any:
    """The config to benchmark (the pilot cut down to CPU size)."""
    from mrd.config import load_config

    cfg, _ = load_config(path)
    if pilot:
        from mrd.models import ModelSpec

        cfg = cfg.model_copy(update={
            "render": cfg.render.model_copy(update={"resolution": 64, "views": 2, "spp": 8, "display_spp": 128,
                                                    "env_resolution": 32}),
            "optimize": cfg.optimize.model_copy(update={"target_renders": 4}),
            "null": cfg.null.model_copy(update={"draws": 8}),
            "models": [ModelSpec(name="mobilenetv2_100", layers=["blocks.2", "blocks.4", "blocks.6"])],
        })
    if resolution:
        cfg = cfg.model_copy(update={"render": cfg.render.model_copy(update={"resolution": resolution})})
    if steps:
        cfg = cfg.model_copy(update={"optimize": cfg.optimize.model_copy(update={"steps": steps})})
    return cfg


def _renderer(ctx: _Ctx, scene_id: str, res: int) -> Any:
    from mrd.render import Renderer
    from mrd.scene import layout_for

    cfg = ctx.gen.cfg
    full = cfg.render.size[0]
    if res == full:
        return ctx.gen.scenes[scene_id].renderer
    key = (scene_id, res)
    if key not in ctx.renderers:
        render = cfg.render.model_copy(update={"resolution": res})
        ctx.renderers[key] = Renderer(layout_for(cfg.scene(scene_id), render), ctx.gen.scenes[scene_id].params)
    return ctx.renderers[key]


def run(ctx: _Ctx, job: Any, setting: Setting) -> dict[str, Any]:
    """One metamer job under one setting (see the module docstring)."""
    import numpy as np

    from mrd.groups import make_group
    from mrd.null import null_params, stable_seed, start_values
    from mrd.optimize import Objective, StopRule, mean_features, noise_ceiling, optimize
    from mrd.scene import copy_params
    from mrd.similarity import score_images
    from mrd.tonemap import display_image

    gen, cfg = ctx.gen, ctx.gen.cfg
    o, r = cfg.optimize, cfg.render
    model = gen.load_models()[job.model]
    st = gen.scenes[job.scene]
    null_display = gen.null_display(job.scene, job.group)
    t0 = time.perf_counter()
    values = start_values(job.group, cfg.prior, st.params,
                          np.random.default_rng(stable_seed(cfg.seed, job.scene, job.group, job.seed, "start")),
                          job.start, resolve=cfg.resolve, vary_material=o.vary_material, vary_lighting=o.vary_lighting)
    seed = stable_seed(cfg.seed, job.metamer_id, "render")
    lr = getattr(o.lr, job.group) * setting.lr_scale
    lam = setting.lambda_ or o.largesteps_lambda
    steps_done, success_opt, stage_log, seconds_to = 0, False, [], None
    for si, (rs, ss, share) in enumerate(setting.stages):
        last = si == len(setting.stages) - 1
        res = max(16, int(round(r.size[0] * rs)))
        spp = max(1, int(round(r.spp * ss)))
        ren = _renderer(ctx, job.scene, res)
        t_stage = time.perf_counter()
        group = make_group(job.group, values, vary_material=o.vary_material, vary_lighting=o.vary_lighting,
                           lambda_=lam, remesh_edge_scale=o.remesh_edge_scale)
        ren.set_params(st.params)
        target = mean_features(ren, model, spp=spp, seed=seed + 1_000_003, integrator=group.integrator,
                               exposure=r.exposure, n=o.target_renders)
        objective = Objective(model, target, kind=o.distance, exposure=r.exposure)
        null_sim = []
        for i, p in enumerate(null_params(job.group, cfg.prior, st.params, cfg.null.draws,
                                          stable_seed(cfg.seed, job.scene, job.group, "null"),
                                          vary_material=o.vary_material, vary_lighting=o.vary_lighting)):
            ren.set_params(p, (job.group,))
            feats = mean_features(ren, model, spp=spp, seed=seed + 2_000_003 + i * 997, integrator=group.integrator,
                                  exposure=r.exposure)
            null_sim.append(objective.similarity(feats))
        null_max = float(max(null_sim))
        ren.set_params(st.params)
        ceiling = noise_ceiling(ren, objective, spp=spp, seed=seed + 3_000_017, integrator=group.integrator)
        ren.set_params({job.group: values}, (job.group,))
        budget = o.steps - steps_done if last else max(1, int(round(o.steps * share)))
        fraction = o.success_fraction if setting.fraction is None else setting.fraction
        rule = StopRule(steps=budget, stop_on_success=True, fraction=fraction)
        setup_s = time.perf_counter() - t_stage
        out = optimize(ren, group, objective, lr=lr, spp=spp, seed=seed + steps_done * ren.n_views, rule=rule,
                       null_max=null_max, ceiling=ceiling, remesh_every=o.remesh_every if job.group == "shape" else 0)
        steps_done += out.steps
        values = out.final
        stage_log.append({"resolution": res, "spp": spp, "steps": out.steps, "stop": out.stop_reason,
                          "setup_s": setup_s, "optimize_s": out.wall_time_s,
                          "null_max": null_max, "ceiling": ceiling, "threshold": rule.threshold(null_max, ceiling),
                          "final_similarity": float(out.similarity[-1])})
        if last and out.stop_reason == "success":
            success_opt, seconds_to = True, time.perf_counter() - t0
        if out.stop_reason == "diverged":
            break
    seconds = seconds_to if seconds_to is not None else time.perf_counter() - t0
    final = copy_params(st.params)
    final[job.group] = values
    st.renderer.set_params(final, (job.group,))
    display = display_image(st.renderer.render_display(r.display_spp, stable_seed(cfg.seed, job.metamer_id, "display")),
                            r.exposure)
    st.renderer.set_params(st.params)
    sim = score_images(model, st.display, display, null_display)
    return {"job": job.metamer_id, "group": job.group, "seed": job.seed, "setting": setting.name,
            "steps": steps_done, "seconds": seconds, "success_opt": success_opt,
            "success_display": bool(sim.mean_cosine > sim.null_max_cosine), "display_cosine": sim.mean_cosine,
            "display_null_max": sim.null_max_cosine, "stages": stage_log}


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (group, setting): success rates and median steps / seconds."""
    import numpy as np

    out = []
    keys = sorted({(r["group"], r["setting"]) for r in rows}, key=lambda k: (k[0], [s.name for s in SETTINGS].index(k[1])))
    for g, s in keys:
        rs = [r for r in rows if r["group"] == g and r["setting"] == s]
        out.append({"group": g, "setting": s, "runs": len(rs),
                    "success_opt": sum(r["success_opt"] for r in rs), "success_display": sum(r["success_display"] for r in rs),
                    "median_steps": float(np.median([r["steps"] for r in rs])),
                    "median_seconds": float(np.median([r["seconds"] for r in rs])),
                    "mean_seconds": float(np.mean([r["seconds"] for r in rs]))})
    return out


def markdown(summary: list[dict[str, Any]], rows: list[dict[str, Any]], budget: int, size: tuple[int, int]) -> str:
    """The results tables."""
    srows = [[s["group"], s["setting"], s["runs"], f"{s['success_opt']}/{s['runs']}", f"{s['success_display']}/{s['runs']}",
              f"{s['median_steps']:.0f}", f"{s['median_seconds']:.1f}", f"{s['mean_seconds']:.1f}"] for s in summary]
    rrows = [[r["job"], r["setting"], r["steps"], f"{r['seconds']:.1f}", "yes" if r["success_opt"] else "no",
              "yes" if r["success_display"] else "no", f"{r['display_cosine']:.4f} / {r['display_null_max']:.4f}"]
             for r in rows]
    return (f"Renders {size[0]}x{size[1]} px. Step budget {budget}; a run that does not meet the criterion counts "
            f"the whole budget.\n\n"
            + md_table(["group", "setting", "runs", "met criterion", "display success", "median steps",
                        "median s", "mean s"], srows)
            + "\n\nEvery run:\n\n"
            + md_table(["metamer", "setting", "steps", "seconds", "criterion", "display success",
                        "display cosine / null max"], rrows) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="demo scene blob_red, seed 0, two settings")
    ap.add_argument("--pilot", action="store_true", help="the CPU-sized slice of the pilot config")
    ap.add_argument("--seeds", default=None, help="comma-separated seeds (default 0 quick, 0,1,2 full, 0,1 pilot)")
    ap.add_argument("--settings", default=None, help="comma-separated setting names (default: all; quick: three)")
    ap.add_argument("--groups", default=None, help="comma-separated groups (default: the config's)")
    ap.add_argument("--scenes", default=None, help="comma-separated scene ids (default: all; pilot: blob)")
    ap.add_argument("--steps", type=int, default=None, help="step budget (default: the config's)")
    ap.add_argument("--resolution", type=int, default=None, help="render resolution in pixels (default: the config's)")
    ap.add_argument("--name", default=None)
    ap.add_argument("--update", action="store_true",
                    help="merge into an existing result file: runs made now replace the same (metamer, setting)")
    args = ap.parse_args(argv)
    from tqdm import tqdm

    from mrd.config import Job
    from mrd.generate import Generator

    bench_variant()
    cfg = load(PILOT if args.pilot else DEMO, args.pilot, args.steps, args.resolution)
    seeds = [int(s) for s in (args.seeds or ("0" if args.quick else "0,1" if args.pilot else "0,1,2")).split(",")]
    names = args.settings.split(",") if args.settings else (list(QUICK) if args.quick else [s.name for s in SETTINGS])
    settings = [s for s in SETTINGS if s.name in names]
    scenes = args.scenes.split(",") if args.scenes else (["blob"] if args.pilot else ["blob_red"] if args.quick else None)
    base = [j for j in cfg.jobs() if (scenes is None or j.scene in scenes) and
            (args.groups is None or j.group in args.groups.split(",")) and j.seed == cfg.jobs()[0].seed]
    jobs = [Job(j.scene, j.group, j.model, s, j.start) for j in base for s in seeds]
    gen = Generator(cfg, bench_device(), progress=False)
    gen.load_models()
    for sid in sorted({j.scene for j in jobs}):
        gen.scene(sid)
    ctx = _Ctx(gen)
    rows = []
    todo = [(j, s) for j in jobs for s in settings if j.group in s.groups]
    for job, setting in tqdm(todo, desc="time to metamer", unit="run"):
        r = run(ctx, job, setting)
        tqdm.write(f"{r['job']} [{setting.name}]: {r['steps']} steps, {r['seconds']:.1f} s, criterion "
                   f"{'met' if r['success_opt'] else 'NOT met'}, display success {r['success_display']}")
        rows.append(r)
    name = args.name or ("time_to_metamer_quick" if args.quick else "time_to_metamer_pilot" if args.pilot
                         else "time_to_metamer")
    cmd = ".venv/bin/python benchmarks/time_to_metamer.py " + " ".join(argv if argv is not None else sys.argv[1:])
    commands = [cmd.strip()]
    if args.update:
        rows, commands = merge_with_previous(name, rows, "runs", lambda r: (r["job"], r["setting"]), cmd.strip())
    summary = summarise(rows)
    write_results(name, " ; ".join(commands),
                  {"config": "pilot (CPU slice)" if args.pilot else "demo", "budget": cfg.optimize.steps,
                   "resolution": list(cfg.render.size), "commands": commands, "summary": summary, "runs": rows},
                  markdown(summary, rows, cfg.optimize.steps, cfg.render.size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
