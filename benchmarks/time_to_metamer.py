"""Benchmark: steps and seconds to a successful metamer under different optimisation settings.

Each metamer job of a config is made by a :class:`mrd.synthesis.metamer.Metamer`, as
:meth:`mrd.synthesis.generate.Generator.metamer` makes it (same start draw, objective target of
noisy renders, null reference at the optimisation settings, seeds from
:class:`mrd.synthesis.seeds.Seeds`), with the generator's success criterion as the stop rule: the
mean step similarity of the last 5 steps has gone ``success_fraction`` of the way from the null
maximum to the noise ceiling (the similarity of fresh target renders at the optimisation spp;
:class:`mrd.synthesis.stop.StopRule`; no convergence window). Each stage of a coarse-to-fine setting
is its own metamer (at that stage's size and spp) starting from the previous stage's result.
Reported per run:

* **steps** and **seconds** to that criterion (seconds include building the objective target and the
  null reference of every stage; not the final display render and scoring, which every setting
  pays alike); a run that never meets it counts its whole budget and is a failure;
* **display success**: the generator's own verdict on the result (the display render scored
  against the target's display under the null reference, :func:`mrd.synthesis.similarity.score_images`).

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
2 views, 8 spp (ramped to 64 where the pilot ramps), 30 null draws (the strict criterion needs K >= 19),
128 display spp, the default model; the step cap is the config's,
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
    """What every run shares: the generator (models, full-size targets), coarse targets, null renders."""

    gen: Any
    targets: dict[tuple[str, int], Any] = field(default_factory=dict)
    nulls: dict[tuple[str, str], Any] = field(default_factory=dict)


class _StartAt:
    """The varied group, starting at given values: a later stage goes on from the earlier one's result.

    :meth:`mrd.synthesis.metamer.Metamer.setup` takes config-style explicit starts only (a shape
    start is a mesh spec), so the hand-off between stages swaps the metamer's group for this view
    of it; everything but :meth:`start_values` is the group's own.
    """

    def __init__(self, group: Any, values: dict[str, Any]) -> None:
        self._group, self._values = group, values

    def __getattr__(self, name: str) -> Any:
        return getattr(self._group, name)

    def start_values(self, cfg: Any, target: Any, rng: Any, explicit: Any = None, resolve: Any = Path) -> Any:
        from mrd.groups.base import copy_values

        return copy_values(self._values)


def load(path: Path, pilot: bool, steps: int | None, resolution: int | None = None) -> Any:
    """The config to benchmark (the pilot cut down to CPU size)."""
    from mrd.config import load_config

    cfg, _ = load_config(path)
    if pilot:
        from mrd.models import ModelSpec

        cfg = cfg.model_copy(update={
            "render": cfg.render.model_copy(update={"resolution": 64, "views": 2, "spp": 8, "display_spp": 128,
                                                    "env_resolution": 32}),
            # the pilot's ramp (spp 32 -> 256) at the slice's spp 8: 8 -> 64
            "optimize": cfg.optimize.model_copy(update={"target_renders": min(cfg.optimize.target_renders, 32),
                                                        "spp_final": 64 if cfg.optimize.spp_final else 0}),
            "null": cfg.null.model_copy(update={"draws": 30}),  # K >= 19, or no null p-value reaches 0.05
            "models": [ModelSpec(name="mobilenetv2_100", layers=["blocks.2", "blocks.4", "blocks.6"])],
        })
    if resolution:
        cfg = cfg.model_copy(update={"render": cfg.render.model_copy(update={"resolution": resolution})})
    if steps:
        cfg = cfg.model_copy(update={"optimize": cfg.optimize.model_copy(update={"steps": steps})})
    return cfg


def stage_config(cfg: Any, setting: Setting, group: str, resolution: int, spp: int, budget: int) -> Any:
    """The config one stage of a setting runs under: the setting's changes to ``cfg``.

    The stop rule is the generator's success criterion alone (no convergence window), with the
    stage's step budget, so that a run is either a success or counts its whole budget.

    Examples
    --------
    >>> from mrd.config import SynthesisSettings
    >>> c = stage_config(SynthesisSettings(), Setting("x", lr_scale=2.0), "material", 32, 2, 10)
    >>> c.optimize.lr.material, c.render.resolution, c.optimize.steps
    (0.1, 32, 10)
    """
    o = cfg.optimize
    fraction = o.success_fraction if setting.fraction is None else setting.fraction
    opt = o.model_copy(update={
        "lr": o.lr.model_copy(update={group: getattr(o.lr, group) * setting.lr_scale}),
        "steps": budget, "stop_on_success": True, "convergence_window": 0, "success_fraction": fraction,
        "largesteps_lambda": setting.lambda_ or o.largesteps_lambda,
    })
    render = cfg.render.model_copy(update={"resolution": resolution, "spp": spp})
    return cfg.model_copy(update={"optimize": opt, "render": render})


def _target(ctx: _Ctx, scene_id: str, res: int) -> Any:
    """The target at ``res`` pixels (the generator's own at full size)."""
    from mrd.synthesis.target import Target

    cfg = ctx.gen.cfg
    full = ctx.gen.target(scene_id)
    if res == cfg.render.size[0]:
        return full
    key = (scene_id, res)
    if key not in ctx.targets:
        # a coarse stage is never recorded: the full-size display stands in for its own
        render = cfg.render.model_copy(update={"resolution": res})
        ctx.targets[key] = Target.from_spec(cfg.scene(scene_id), render, master_seed=cfg.seed, resolve=cfg.resolve,
                                            display=full.display)
    return ctx.targets[key]


def _null_display(ctx: _Ctx, job: Any) -> Any:
    """Display renders of the job's null draws (shared by every setting, seed and model)."""
    from mrd.synthesis.metamer import Metamer

    key = (job.scene, job.group)
    if key not in ctx.nulls:
        gen = ctx.gen
        m = Metamer(gen.target(job.scene), gen.load_models()[job.model], job.group, gen.cfg, model_id=job.model)
        ctx.nulls[key] = m.render_null()
    return ctx.nulls[key]


def run(ctx: _Ctx, job: Any, setting: Setting) -> dict[str, Any]:
    """One metamer job under one setting (see the module docstring)."""
    from mrd.synthesis.metamer import Metamer

    cfg = ctx.gen.cfg
    o, r = cfg.optimize, cfg.render
    model = ctx.gen.load_models()[job.model]
    null_display = _null_display(ctx, job)
    t0 = time.perf_counter()
    values, m = None, None
    steps_done, success_opt, stage_log, seconds_to, diverged = 0, False, [], None, False
    for si, (rs, ss, share) in enumerate(setting.stages):
        last = si == len(setting.stages) - 1
        res = max(16, int(round(r.size[0] * rs)))
        spp = max(1, int(round(r.spp * ss)))
        budget = o.steps - steps_done if last else max(1, int(round(o.steps * share)))
        stage_cfg = stage_config(cfg, setting, job.group, res, spp, budget)
        t_stage = time.perf_counter()
        m = Metamer(_target(ctx, job.scene, res), model, job.group, stage_cfg, model_id=job.model,
                    null_display=null_display)
        if values is not None:
            m.group = _StartAt(m.group, values)
        m.setup(start=job.start, seed=job.seed)
        setup_s = time.perf_counter() - t_stage
        t_opt = time.perf_counter()
        m.synthesize()
        optimize_s = time.perf_counter() - t_opt
        steps_done += m.steps
        values = m.final
        stage_log.append({"resolution": res, "spp": spp, "steps": m.steps, "stop": m.stop_reason,
                          "setup_s": setup_s, "optimize_s": optimize_s,
                          "null_max": m.null_max, "ceiling": m.noise_ceiling, "threshold": m.threshold,
                          "final_similarity": float(m.similarities[-1])})
        if last and m.stop_reason == "success":
            success_opt, seconds_to = True, time.perf_counter() - t0
        if m.stop_reason == "diverged":
            diverged = True
            break
    seconds = seconds_to if seconds_to is not None else time.perf_counter() - t0
    if diverged:  # no final scene worth scoring
        success_display, cosine, null_max = False, float("nan"), float("nan")
    else:
        rec = m.to_record()
        sim = rec.similarity[job.model]
        success_display, cosine, null_max = rec.success, sim.mean_cosine, sim.null_max_cosine
    return {"job": job.metamer_id, "group": job.group, "seed": job.seed, "setting": setting.name,
            "steps": steps_done, "seconds": seconds, "success_opt": success_opt,
            "success_display": bool(success_display), "display_cosine": cosine,
            "display_null_max": null_max, "stages": stage_log}


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
    from mrd.synthesis.generate import Generator

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
        gen.target(sid)
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
