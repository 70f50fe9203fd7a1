"""Benchmark: steps and seconds to a *true* metamer: the strict criterion, checked during the run.

Each job runs in the experiment mode (``optimize.mode = "experiment"``): every ``--check-every`` steps
the criterion (:mod:`mrd.synthesis.criterion`: the generating model as an oddity observer on fresh
display renders, ``oddity_pc <= 0.45``; the null p-value; beats its start) is evaluated on
``criterion.check_renders`` fresh display renders of the current iterate, and the run stops when it
holds. Reported per run: the step and the seconds (set-up, optimisation and the checks) at which it
held, or the budget when it never did; and the final stored verdict (``to_record``: its own fresh
``display_renders`` renders, the full K null draws) with the model's oddity proportion correct, the
null p-value and the distance ratio to a re-render.

Settings: ``independent`` (the default gradient estimator: residual and Jacobian from independent
renders) and ``same_render`` (the one-render estimator), each with the config's learning rates; and
``mrd_reference``, the public MRD reference's schedules (ag-perception-wallis-lab/MRD, ``src/shape.py``,
``src/bsdf.py``, ``src/config.py``) emulated in this harness, interleaved with the others on the same jobs
and checked by the same criterion: material -- Adam at a constant lr 3e-2, the gradient of every view
accumulated into one step, a fixed spp, the last iterate; shape -- ``mi.ad.Adam(lr=0.1, uniform=True)``
on LargeSteps coordinates with lambda 15, an Adam update after every view (``optimize.step_per_view``),
Botsch remeshing after steps 5, 25, 50, 100, 150, 250, 350 and 450 (its ``DragonConfig``) with the rate
times 0.8 and a fresh Adam at each, constant rate otherwise, fixed spp, the last iterate. What is kept
from this harness in both: the objective (activation distance to the mean activations of noisy target
renders, the independent-render gradient) and a fresh render seed per step (the reference reuses one
seed per view for every epoch, which fits one noise realisation). "updates" counts Adam updates
(steps x views for the per-view schedule); a step's render cost is the same in both.

``--start target`` begins every run at the target's own parameters (``near:A``: shape jittered by ``A``):
where such a run ends is the schedule's floor, which no start can beat; each run also reports its final
iterate's ratio on renders at the optimisation's spp (with the target itself on the same seeds) and the
group's parameter distances. ``--opt KEY=VALUE`` sets any ``[optimize]`` value, ``--lr-scale`` every rate;
``benchmarks/criterion_null.py`` is the yardstick (the target re-rendered). The ``harmonic`` setting runs
shape in the harmonic basis (``optimize.shape_basis``, :mod:`mrd.groups.shape_harmonic`) at a quarter of the
config's shape rate.

Configs: the demo (64 px, 2 views) and the CPU slice of the pilot (``--pilot``; see
``benchmarks/time_to_metamer.py``).

Run::

    .venv/bin/python benchmarks/time_to_true_metamer.py --groups material --seeds 0,1,2 --steps 150
    .venv/bin/python benchmarks/time_to_true_metamer.py --pilot --groups material,shape,lighting --seeds 0
    .venv/bin/python benchmarks/time_to_true_metamer.py --groups shape --settings independent,mrd_reference \
        --seeds 0,1,2 --steps 400 --name time_to_true_metamer_shape_reference
    .venv/bin/python benchmarks/time_to_true_metamer.py --groups lighting --start target --seeds 0 --steps 200 \
        --spp-final 64 --target-renders 32 --settings independent --name time_to_true_metamer_from_target_lighting

Results: ``benchmarks/results/time_to_true_metamer[_pilot].json`` and ``.md``.

Examples
--------
>>> SETTINGS
('independent', 'same_render', 'mrd_reference', 'harmonic')
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEMO, PILOT, bench_device, bench_variant, md_table, merge_with_previous, write_results  # noqa: E402
from time_to_metamer import _Ctx, _null_display, load  # noqa: E402

SETTINGS = ("independent", "same_render", "mrd_reference", "harmonic")
HARMONIC_LR_FACTOR = 0.25
"""``harmonic``: the shape rate on the harmonic coefficients, relative to the config's LargeSteps rate."""
REFERENCE_MATERIAL_LR = 3e-2
"""The MRD reference's material learning rate (Adam, gradients accumulated over its views)."""
REFERENCE_SHAPE = {"lr": 0.1, "largesteps_lambda": 15.0, "step_per_view": True, "remesh_lr_factor": 0.8,
                   "remesh_at": [5, 25, 50, 100, 150, 250, 350, 450], "remesh_every": 0}  # fmt: skip
"""The MRD reference's shape schedule (its ``DragonConfig`` and ``src/shape.py``)."""


def experiment_config(cfg: Any, setting: str, check_every: int, group: str = "material") -> Any:
    """``cfg`` in the experiment mode under a setting (a gradient estimator, or ``mrd_reference``).

    Examples
    --------
    >>> c = experiment_config(load(DEMO, False, 100), "mrd_reference", 10).optimize
    >>> c.lr.material, c.lr.shape, c.lr_decay, c.spp_final, c.iterate, c.step_per_view
    (0.03, 0.1, 'none', 0, 'last', False)
    >>> experiment_config(load(DEMO, False, 100), "mrd_reference", 10, "shape").optimize.step_per_view
    True
    >>> h = experiment_config(load(DEMO, False, 100), "harmonic", 10, "shape").optimize
    >>> h.shape_basis, h.lr.shape == 0.25 * load(DEMO, False, 100).optimize.lr.shape
    ('harmonic', True)
    """
    o = cfg.optimize
    if setting == "mrd_reference":
        shape = {k: v for k, v in REFERENCE_SHAPE.items() if k != "lr"} if group == "shape" else {}
        lr = o.lr.model_copy(update={"material": REFERENCE_MATERIAL_LR, "shape": REFERENCE_SHAPE["lr"]})
        update = {"gradient": "independent", "lr": lr, "lr_decay": "none", "spp_final": 0, "iterate": "last",
                  **shape}  # fmt: skip
    elif setting == "harmonic":  # shape in the harmonic basis (mrd.groups.shape_harmonic), its rate
        lr = o.lr.model_copy(update={"shape": o.lr.shape * HARMONIC_LR_FACTOR})
        update = {"gradient": "independent", "shape_basis": "harmonic", "lr": lr}
    else:
        update = {"gradient": setting}
    o = o.model_copy(update={"mode": "experiment", **update})
    c = cfg.criterion.model_copy(update={"check_every": check_every})
    return cfg.model_copy(update={"optimize": o, "criterion": c})


def oracle_start(target_values: dict[str, Any], how: str, group: str, seed: int) -> dict[str, Any] | None:
    """The start values of ``--start``: None (the config's), the target's own, or near it.

    ``how`` is ``config``, ``target`` (the target's values: the optimisation's floor, where a run that
    leaves the criterion shows a bias of the objective, not a local minimum) or ``near:A`` (shape: the
    target's vertices jittered radially by a harmonic field of amplitude ``A``, seeded by ``seed``).

    Examples
    --------
    >>> from mrd.render.meshes import icosphere
    >>> from mrd.groups.shape import shape_values
    >>> t = shape_values(icosphere(2))
    >>> oracle_start(t, "config", "shape", 0) is None
    True
    >>> bool((oracle_start(t, "target", "shape", 0)["vertices"] == t["vertices"]).all())
    True
    >>> d = oracle_start(t, "near:0.05", "shape", 0)["vertices"] - t["vertices"]
    >>> bool(0 < abs(d).max() < 0.2)
    True
    """
    import numpy as np

    from mrd.groups.base import copy_values
    from mrd.groups.shape import jittered

    if how == "config":
        return None
    v = copy_values(target_values)
    if how == "target":
        return v
    if how.startswith("near:") and group == "shape":
        v["vertices"] = jittered(v["vertices"], np.random.default_rng(1000 + seed), float(how[5:]))
        return v
    raise SystemExit(f"--start {how!r}: use config, target or near:A (A a jitter amplitude; shape only)")


def ratios_at_spp(m: Any, spp: int, n: int = 8, seed: int = 424_242) -> tuple[float, float]:
    """The final iterate's distance ratio on ``n`` fresh renders at ``spp`` with the *optimisation's*
    integrator and tone map (not the display renders the criterion sees), and the target itself's.

    The seeds are the same for every run (``seed`` for the target's reference renders, ``seed + 100000``
    for the iterate and for the target itself), so compare the iterate's ratio with the target's (the
    second value), not with 1. An iterate at the target's value here but above 1 on display renders differs
    from its target by less than the optimisation's render noise and by more than the display renders'.
    """
    import torch

    from mrd.groups import copy_params
    from mrd.synthesis.distances import mean_distance
    from mrd.synthesis.objective import mean_features

    t, r, name = m.target, m.settings.render, m.group.name
    kind, v = m._run.group.integrator, t.renderer.n_views

    def feats(params: Any, base: int) -> dict[str, Any]:  # {layer: (n, V, ...)}, one entry per render
        t.renderer.set_params(params, (name,))
        per = [mean_features(t.renderer, m.model, spp=spp, seed=base + i * v, integrator=kind, exposure=r.exposure)
               for i in range(n)]  # fmt: skip
        t.reset()
        return {k: torch.stack([f[k].cpu() for f in per]) for k in per[0]}

    itself = copy_params(t.params)
    reference, d = feats(itself, seed), m.settings.optimize.distance
    tt = mean_distance(reference, reference, d, exclude_same=True)
    return (mean_distance(feats(m.params(), seed + 100_000), reference, d) / tt,
            mean_distance(feats(itself, seed + 100_000), reference, d) / tt)


def run(ctx: _Ctx, job: Any, estimator: str, check_every: int, start: str = "config") -> dict[str, Any]:
    """One job under one estimator from a ``--start`` (see the module docstring and :func:`oracle_start`)."""
    from mrd.synthesis.metamer import Metamer

    cfg = experiment_config(ctx.gen.cfg, estimator, check_every, job.group)
    model = ctx.gen.load_models()[job.model]
    null_display = _null_display(ctx, job)
    t0 = time.perf_counter()
    target = ctx.gen.target(job.scene)
    m = Metamer(target, model, job.group, cfg, model_id=job.model, null_display=null_display)
    values = oracle_start(target.params[job.group], start, job.group, job.seed)
    m.setup(start=job.start, seed=job.seed, start_values=values)
    m.synthesize()
    seconds = time.perf_counter() - t0
    checks = m._run.checks
    rec = m.to_record()
    attempts = rec.info.get("attempts", [])  # restarts: met = the kept attempt passed; steps of all attempts
    met = bool(attempts[m.attempt]["passed"]) if attempts else m.stop_reason == "criterion"
    total = rec.info.get("steps_all_attempts", m.steps)
    g = rec.info["criterion_graded"]
    spp = ctx.gen.cfg.render.spp
    at_spp = {}
    for k in sorted({spp, 64}):
        at_spp[f"ratio_spp{k}"], at_spp[f"target_ratio_spp{k}"] = ratios_at_spp(m, k)
    per_view = bool(cfg.optimize.step_per_view)
    return {"job": job.metamer_id, "group": job.group, "seed": job.seed, "setting": estimator, "start": start,
            "start_ratio": g["distance_start"] / g["distance_target"],
            "steps": total, "updates": total * (ctx.gen.cfg.render.views if per_view else 1),
            "attempts": attempts, "kept_attempt": m.attempt, "seconds": seconds, "met": met, "success": bool(rec.success),
            "oddity_pc": rec.criterion["oddity_pc"], "null_p": rec.criterion["null_p"],
            "distance_ratio": g.get("distance_ratio"), **at_spp,
            "param_distance": m.group.distance(target.params[job.group], rec.final_params[job.group]),
            "checks": [{k: c.get(k) for k in ("step", "oddity_pc", "null_p", "distance_ratio", "passed")} for c in checks]}


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (group, setting): criterion met during the run, stored successes, median steps/seconds."""
    import numpy as np

    out = []
    for g, s in sorted({(r["group"], r["setting"]) for r in rows}):
        rs = [r for r in rows if r["group"] == g and r["setting"] == s]
        out.append({"group": g, "setting": s, "runs": len(rs), "met": sum(r["met"] for r in rs),
                    "success": sum(r["success"] for r in rs),
                    "median_steps": float(np.median([r["steps"] for r in rs])),
                    "median_updates": float(np.median([r.get("updates", r["steps"]) for r in rs])),
                    "median_seconds": float(np.median([r["seconds"] for r in rs])),
                    "median_ratio": float(np.median([r["distance_ratio"] for r in rs])),
                    "median_pc": float(np.median([r["oddity_pc"] for r in rs]))})  # fmt: skip
    return out


def markdown(summary: list[dict[str, Any]], rows: list[dict[str, Any]], budget: int, check_every: int) -> str:
    """The results tables."""
    s_rows = [[s["group"], s["setting"], s["runs"], f"{s['met']}/{s['runs']}", f"{s['success']}/{s['runs']}",
               f"{s['median_steps']:.0f}", f"{s.get('median_updates', s['median_steps']):.0f}",
               f"{s['median_seconds']:.0f}", f"{s['median_pc']:.3f}",
               f"{s['median_ratio']:.3f}"] for s in summary]  # fmt: skip
    r_rows = [[r["job"], r["setting"], r["steps"], r.get("updates", r["steps"]), f"{r['seconds']:.0f}", "yes" if r["met"] else "no",
               "yes" if r["success"] else "no", f"{r['oddity_pc']:.3f}", f"{r['null_p']:.4f}",
               f"{r['distance_ratio']:.3f}",
               at_spp_cell(r)] for r in rows]  # fmt: skip
    return (f"Step budget {budget}, criterion checked every {check_every} steps; a run that never meets it counts "
            "the whole budget. Model oddity pc: the generating model's proportion correct at picking the metamer "
            "(chance 1/3; success needs <= 0.45); ratio: metamer-target distance / re-render distance on display renders; "
            "ratio at spp 8 / 64: the same on 8 renders at that spp with the optimisation's integrator, the same seeds "
            "every run; in brackets the target itself on those seeds.\n\n"
            + md_table(["group", "setting", "runs", "criterion met", "stored success", "median steps",
                        "median updates", "median s", "median model pc", "median ratio"], s_rows)
            + "\n\nEvery run (final stored verdict):\n\n"
            + md_table(["metamer", "setting", "steps", "updates", "seconds", "met", "success", "model pc",
                        "null p", "ratio", "ratio at spp 8 / 64"], r_rows) + "\n" + trajectory(rows)
            + attempts_table(rows))  # fmt: skip


def at_spp_cell(r: dict[str, Any]) -> str:
    """``"a / b (c / d)"``: the iterate's ratios at each spp, and the target's own in brackets.

    Examples
    --------
    >>> at_spp_cell({"ratio_spp8": 1.0, "ratio_spp64": 0.99, "target_ratio_spp8": 0.998, "target_ratio_spp64": 0.988})
    '1.000 / 0.990 (0.998 / 0.988)'
    >>> at_spp_cell({})
    '-'
    """
    keys = sorted((k for k in r if k.startswith("ratio_spp")), key=lambda k: int(k[9:]))
    if not keys:
        return "-"
    out = " / ".join(f"{r[k]:.3f}" for k in keys)
    if all(f"target_{k}" in r for k in keys):
        out += " (" + " / ".join(f"{r['target_' + k]:.3f}" for k in keys) + ")"
    return out


def trajectory(rows: list[dict[str, Any]]) -> str:
    """The checks of every run as ``step: ratio (pc)``, with the start's ratio to a re-render.

    Examples
    --------
    >>> r = {"job": "j", "setting": "s", "start": "target", "start_ratio": 1.0,
    ...      "checks": [{"step": 10, "distance_ratio": 1.01, "oddity_pc": 0.4}]}
    >>> "10: 1.010 (0.40)" in trajectory([r])
    True
    """
    t_rows = [[r["job"], r["setting"], r.get("start", "config"),
               f"{r['start_ratio']:.3f}" if r.get("start_ratio") is not None else "-",
               ", ".join(f"{c['step']}: {c['distance_ratio']:.3f} ({c['oddity_pc']:.2f})" for c in r["checks"]
                         if c.get("distance_ratio") is not None)] for r in rows]  # fmt: skip
    return ("\nChecks during each run (step: distance ratio (model pc)); start ratio: the start's distance to the "
            "target over a re-render's:\n\n" + md_table(["metamer", "setting", "start", "start ratio", "checks"], t_rows)
            + "\n")


def attempts_table(rows: list[dict[str, Any]]) -> str:
    """Restarts: every attempt of every run, judged when it ended ("" when no run restarted).

    Examples
    --------
    >>> r = {"job": "j", "kept_attempt": 1, "attempts": [{"attempt": 0, "steps": 9, "stop_reason": "max_steps",
    ...      "passed": False, "oddity_pc": 1.0, "distance_ratio": 2.7}, {"attempt": 1, "steps": 5,
    ...      "stop_reason": "criterion", "passed": True, "oddity_pc": 0.4, "distance_ratio": 1.0}]}
    >>> "| j | 1 (kept) | 5 | criterion | yes | 0.400 | 1.000 |" in attempts_table([r])
    True
    """
    t_rows = [[r["job"], f"{a['attempt']}" + (" (kept)" if a["attempt"] == r.get("kept_attempt") else ""),
               a["steps"], a["stop_reason"], "yes" if a["passed"] else "no", f"{a['oddity_pc']:.3f}",
               f"{a['distance_ratio']:.3f}"] for r in rows for a in r.get("attempts", [])]  # fmt: skip
    if not t_rows:
        return ""
    return ("\nAttempts (`restarts`): each judged when it ended on fresh display renders (the same seeds for every "
            "attempt of a run):\n\n" + md_table(["metamer", "attempt", "steps", "stop", "passed", "model pc", "ratio"],
                                                t_rows) + "\n")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pilot", action="store_true", help="the CPU-sized slice of the pilot config")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--settings", default="independent,same_render", help=f"comma-separated, of {', '.join(SETTINGS)}")
    ap.add_argument("--groups", default=None,
                    help="comma-separated groups (default: the config's; others start from their prior)")
    ap.add_argument("--scenes", default=None, help="comma-separated scene ids (default: blob_red; pilot: blob)")
    ap.add_argument("--steps", type=int, default=150, help="step budget (default 150)")
    ap.add_argument("--check-every", type=int, default=10)
    ap.add_argument("--spp-final", type=int, default=None, help="optimize.spp_final (default: the config's)")
    ap.add_argument("--target-renders", type=int, default=None, help="optimize.target_renders (default: the config's)")
    ap.add_argument("--iterate", default=None, help="optimize.iterate (default: the config's)")
    ap.add_argument("--display-renders", type=int, default=8,
                    help="render.display_renders: the renders the stored verdict (and each check's target side) "
                    "is judged on (default 8: a perfect metamer's pc has sd 0.05 there, 0.11 at the demo's 4)")
    ap.add_argument("--check-renders", type=int, default=None,
                    help="criterion.check_renders: fresh metamer renders per check (default: the config's)")
    ap.add_argument("--resolution", type=int, default=None, help="render.resolution (default: the config's)")
    ap.add_argument("--views", type=int, default=None, help="render.views (default: the config's)")
    ap.add_argument("--start", default="config",
                    help="config (default), target (start at the target: the objective's floor) or near:A (shape: "
                    "the target jittered with amplitude A)")
    ap.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE",
                    help="any [optimize] setting, VALUE as JSON (e.g. --opt lr_final_fraction=0.01); repeatable")
    ap.add_argument("--lr-scale", type=float, default=1.0, help="every group's learning rate times this")
    ap.add_argument("--name", default=None)
    ap.add_argument("--update", action="store_true", help="merge into an existing result file")
    args = ap.parse_args(argv)
    from tqdm import tqdm

    from mrd.config import Job
    from mrd.synthesis.generate import Generator

    bench_variant()
    cfg = load(PILOT if args.pilot else DEMO, args.pilot, args.steps, args.resolution)
    if args.views is not None:
        cfg = cfg.model_copy(update={"render": cfg.render.model_copy(update={"views": args.views})})
    extra = {kv.split("=", 1)[0]: json.loads(kv.split("=", 1)[1]) for kv in args.opt}
    if args.lr_scale != 1.0:
        extra["lr"] = cfg.optimize.lr.model_copy(update={k: v * args.lr_scale for k, v in cfg.optimize.lr.model_dump().items()})
    cfg = cfg.model_copy(update={"optimize": cfg.optimize.model_validate({**cfg.optimize.model_dump(), **extra})})
    over = {k: v for k, v in (("spp_final", args.spp_final), ("target_renders", args.target_renders),
                              ("iterate", args.iterate)) if v is not None and k not in extra}  # fmt: skip
    cfg = cfg.model_copy(update={"optimize": cfg.optimize.model_copy(update=over),
                                 "render": cfg.render.model_copy(update={"display_renders": args.display_renders})})
    if args.check_renders is not None:
        cfg = cfg.model_copy(update={"criterion": cfg.criterion.model_copy(update={"check_renders": args.check_renders})})
    o = cfg.optimize
    used = {"start": args.start, "resolution": cfg.render.resolution, "views": cfg.render.views, "spp": cfg.render.spp, "spp_final": o.spp_final, "target_renders": o.target_renders, "iterate": o.iterate,
            "lr_decay": o.lr_decay, "lr": o.lr.model_dump(), "display_renders": cfg.render.display_renders,
            "check_renders": cfg.criterion.check_renders, "lr_final_fraction": o.lr_final_fraction,
            "average_window": o.average_window}  # fmt: skip
    seeds = [int(s) for s in args.seeds.split(",")]
    scenes = args.scenes.split(",") if args.scenes else (["blob"] if args.pilot else ["blob_red"])
    groups = args.groups.split(",") if args.groups else None
    config_jobs = cfg.jobs()
    first = [j for j in config_jobs if j.scene in scenes and j.seed == config_jobs[0].seed]
    # --groups may name a group the config does not generate (the demo has no lighting metamers): its
    # jobs start from that group's prior on the same scenes and models.
    starts = {(j.scene, j.model): j.start for j in first}
    base = ([(j.scene, j.group, j.model, j.start) for j in first] if groups is None
            else [(s, g, m, start) for (s, m), start in starts.items() for g in groups])  # fmt: skip
    jobs = [Job(s, g, m, seed, start) for s, g, m, start in base for seed in seeds]
    gen = Generator(cfg, bench_device(), progress=False)
    gen.load_models()
    ctx = _Ctx(gen)
    rows = []
    todo = [(j, s) for j in jobs for s in args.settings.split(",") if s != "mrd_reference" or j.group != "lighting"]
    for job, setting in tqdm(todo, desc="time to true metamer", unit="run"):
        r = run(ctx, job, setting, args.check_every, args.start)
        tqdm.write(f"{r['job']} [{setting}]: {r['steps']} steps, {r['seconds']:.0f} s, met {r['met']}, success "
                   f"{r['success']}, pc {r['oddity_pc']:.3f}, ratio {r['distance_ratio']:.3f}")
        rows.append(r)
    name = args.name or ("time_to_true_metamer_pilot" if args.pilot else "time_to_true_metamer")
    cmd = (".venv/bin/python benchmarks/time_to_true_metamer.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    commands = [cmd]
    if args.update:
        rows, commands = merge_with_previous(name, rows, "runs", lambda r: (r["job"], r["setting"]), cmd)
    summary = summarise(rows)
    write_results(name, " ; ".join(commands),
                  {"config": "pilot (CPU slice)" if args.pilot else "demo", "budget": args.steps,
                   "check_every": args.check_every, "optimize": used, "commands": commands, "summary": summary,
                   "runs": rows},
                  f"Optimisation: {used}.\n\n" + markdown(summary, rows, args.steps, args.check_every))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
