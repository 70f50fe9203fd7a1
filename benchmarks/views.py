"""Benchmark: the views of one step with fewer launches, and the model over a batch of views.

Rendering: the generator renders view ``i`` with ``mi.render(..., sensor=i)``, one Dr.Jit launch
per view for the primal pass and one per view for the adjoint pass. Mitsuba's ``batch`` sensor
renders several sub-sensors side by side into one film, so a step needs one launch each way. The
script compares, per step, forward + backward (with a fixed random image gradient):

* ``per-view``: :meth:`mrd.render.renderer.Renderer.render_views` (what ``mrd generate`` does);
* ``batch``: one ``batch`` sensor holding every view's camera, its image split into the views.

It counts the JIT kernel launches of each (``dr.kernel_history``) and checks that the two give the
same image (mean absolute difference at high spp against the noise floor). The ``batch`` sensor
only works with ``prb`` (material and lighting): the projective integrators that shape needs
precompute the silhouette seen from *one* viewpoint (``sensor.world_transform()``), and a batch
sensor has none (Mitsuba raises "DiscreteDistribution: empty distribution"); the script records
that instead of a number.

Model: ``model.features`` + distance forward and backward over the ``V`` views as one batch (what
:class:`mrd.synthesis.objective.Objective` does) against ``V`` calls of one view each.

Run::

    .venv/bin/python benchmarks/views.py --quick
    .venv/bin/python benchmarks/views.py

Results: ``benchmarks/results/views[_quick].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Case, bench_variant, demo_config, load_bench_model, md_table, sync, write_results  # noqa: E402


def batch_scene(case: Case) -> tuple[Any, int, Any, Any]:
    """A Mitsuba scene of the demo scene whose last sensor is a ``batch`` of every view.

    Returns the scene, the batch sensor's index, the per-view :class:`mrd.render.renderer.Renderer`
    (same layout and values) and the layout.
    """
    import mitsuba as mi

    from mrd.groups import renderer_for, target_params
    from mrd.render.scene import _sensor, scene_dict
    from mrd.synthesis.target import layout_for

    bench_variant()
    cfg = demo_config()
    # the camera close enough that the object crosses the view edges (the seam check needs it)
    render = cfg.render.model_copy(update={"resolution": case.resolution, "spp": case.spp, "views": case.views,
                                           "distance": 1.6})
    spec = cfg.scene("blob_red")
    layout = layout_for(spec, render)
    params = target_params(spec, cfg.resolve)
    ren = renderer_for(layout, params)
    d = scene_dict(layout, params)
    w, h = layout.size
    batch: dict[str, Any] = {"type": "batch", "film": {"type": "hdrfilm", "width": w * len(layout.views), "height": h,
                                                      "pixel_format": "rgb", "sample_border": True,
                                                      "rfilter": {"type": "gaussian"}},
                             "sampler": {"type": "independent", "sample_count": 1}}
    for i, view in enumerate(layout.views):
        sub = _sensor(view)
        sub.pop("film")
        sub.pop("sampler")
        batch[f"sub_{i:03d}"] = sub
    d["zz_batch"] = batch
    scene = mi.load_dict(d)
    # the same values as the per-view renderer (material/lighting written the same way)
    sp = mi.traverse(scene)
    own = set(sp.keys())
    for k in list(ren.params.keys()):
        if k in own and not k.startswith("view_"):
            with contextlib.suppress(Exception):  # read-only or structural keys
                sp[k] = ren.params[k]
    sp.update()
    if type(scene.sensors()[-1]).__name__ == "ProjectiveCamera":
        raise RuntimeError("the batch sensor is not the scene's last sensor")
    return scene, len(scene.sensors()) - 1, ren, layout


def _grad_leaves(params: Any, keys: list[str]) -> list[Any]:
    import drjit as dr

    out = []
    for k in keys:
        v = dr.detach(params[k])
        dr.enable_grad(v)
        params[k] = v
        out.append(v)
    params.update()
    return out


def _kernels(fn: Any) -> int:
    import drjit as dr

    dr.kernel_history()  # clear
    dr.set_flag(dr.JitFlag.KernelHistory, True)
    try:
        fn()
        sync()
        return sum(1 for k in dr.kernel_history() if str(k.get("type")) == "KernelType.JIT")
    finally:
        dr.set_flag(dr.JitFlag.KernelHistory, False)


def render_case(case: Case, repeats: int) -> dict[str, Any]:
    """Per-view vs batch-sensor render forward + backward of one material step."""
    import drjit as dr
    import mitsuba as mi
    import numpy as np

    scene, bi, ren, layout = batch_scene(case)
    w, h = layout.size
    v = len(layout.views)
    keys = ["object.bsdf.base_color.value", "object.bsdf.roughness.value"]
    leaves_b = _grad_leaves(mi.traverse(scene), keys)
    bparams = mi.traverse(scene)
    leaves_v = _grad_leaves(ren.params, keys)
    prb = ren.integrators["prb"]
    rng = np.random.default_rng(0)
    g = rng.standard_normal((h, w * v, 3)).astype(np.float32) * 1e-3
    g_views = [mi.TensorXf(np.ascontiguousarray(g[:, i * w:(i + 1) * w])) for i in range(v)]
    g_batch = mi.TensorXf(g)
    seed = [0]

    def per_view() -> None:
        seed[0] += 1
        imgs = ren.render_views(case.spp, seed[0] * v, "prb")
        for img, gi in zip(imgs, g_views, strict=True):
            dr.set_grad(img, gi)
            dr.enqueue(dr.ADMode.Backward, img)
        dr.traverse(dr.ADMode.Backward)
        dr.eval([dr.grad(x) for x in leaves_v])
        sync()

    def batched() -> None:
        seed[0] += 1
        img = mi.render(scene, bparams, sensor=bi, spp=case.spp, seed=seed[0] * v, integrator=prb)
        dr.set_grad(img, g_batch)
        dr.enqueue(dr.ADMode.Backward, img)
        dr.traverse(dr.ADMode.Backward)
        dr.eval([dr.grad(x) for x in leaves_b])
        sync()

    for f in (per_view, batched):
        f()  # compile
    k_view, k_batch = _kernels(per_view), _kernels(batched)
    tv, tb = [], []
    for _ in range(repeats):  # interleaved
        t0 = time.perf_counter()
        per_view()
        t1 = time.perf_counter()
        batched()
        tb.append(time.perf_counter() - t1)
        tv.append(t1 - t0)
    # same image? high-spp renders of both, compared with the difference of two per-view renders
    with dr.suspend_grad():
        spp = 512
        a = np.stack([np.asarray(mi.render(scene, sensor=i, spp=spp, seed=101 + i, integrator=prb))
                      for i in range(v)])
        a2 = np.stack([np.asarray(mi.render(scene, sensor=i, spp=spp, seed=301 + i, integrator=prb))
                       for i in range(v)])
        b = np.asarray(mi.render(scene, sensor=bi, spp=spp, seed=201, integrator=prb))
        b = b.reshape(h, v, w, 3).transpose(1, 0, 2, 3)
    edge = _edge_error(a, b), _edge_error(a, a2)
    return {"case": case.__dict__, "label": case.label, "per_view_s": float(np.median(tv)),
            "edge_mad_batch": edge[0][0], "interior_mad_batch": edge[0][1],
            "edge_mad_view": edge[1][0], "interior_mad_view": edge[1][1],
            "batch_s": float(np.median(tb)), "speedup": float(np.median(tv) / np.median(tb)),
            "kernels_per_view": k_view, "kernels_batch": k_batch,
            "image_mad_batch_vs_view": float(np.abs(a - b).mean()), "image_mad_view_vs_view": float(np.abs(a - a2).mean()),
            "samples_per_view_s": tv, "samples_batch_s": tb}


def _edge_error(ref: Any, x: Any) -> tuple[float, float]:
    """Mean absolute difference at the columns where views meet in a batch film, and in the interior."""
    import numpy as np

    d = np.abs(np.asarray(x) - np.asarray(ref)).mean(axis=(1, 3))  # (V, W)
    edges = np.concatenate([d[1:, 0], d[:-1, -1]])
    return float(edges.mean()), float(d[:, 4:-4].mean())


def shape_batch_supported(case: Case) -> str:
    """Try the batch sensor with the shape integrator; the error Mitsuba gives, or 'ok'."""
    import drjit as dr
    import mitsuba as mi

    scene, bi, ren, _ = batch_scene(case)
    p = mi.traverse(scene)
    _grad_leaves(p, ["object.vertex_positions"])
    try:
        img = mi.render(scene, p, sensor=bi, spp=case.spp, seed=1, integrator=ren.integrators["projective"])
        dr.backward(dr.mean(img, axis=None))
        dr.eval(dr.grad(p["object.vertex_positions"]))
        return "ok"
    except RuntimeError as exc:
        return str(exc).strip().splitlines()[-1][:200]


def model_case(model_name: str, views: int, resolution: int, repeats: int) -> dict[str, Any]:
    """Batched vs one-view-at-a-time model forward + backward."""
    import numpy as np
    import torch

    from mrd.render.tonemap import tonemap_torch
    from mrd.synthesis.similarity import activation_distance

    m = load_bench_model(model_name)
    x0 = torch.rand(views, 3, resolution, resolution)
    with torch.no_grad():
        target = m.features(x0 * 0.9)

    def batched() -> None:
        x = x0.clone().requires_grad_(True)
        activation_distance(m.features(tonemap_torch(x)), target).backward()

    def singles() -> None:
        for i in range(views):
            x = x0[i:i + 1].clone().requires_grad_(True)
            t = {k: v[i:i + 1] for k, v in target.items()}
            (activation_distance(m.features(tonemap_torch(x)), t) / views).backward()

    batched()
    singles()
    tb, ts = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        batched()
        t1 = time.perf_counter()
        singles()
        ts.append(time.perf_counter() - t1)
        tb.append(t1 - t0)
    return {"model": model_name, "views": views, "resolution": resolution, "batch_s": float(np.median(tb)),
            "singles_s": float(np.median(ts)), "speedup": float(np.median(ts) / np.median(tb))}


def markdown(renders: list[dict[str, Any]], shape_note: str, models: list[dict[str, Any]]) -> str:
    """The results tables."""
    rr = [[r["case"]["resolution"], r["case"]["spp"], r["case"]["views"], f"{1e3 * r['per_view_s']:.0f}",
           f"{1e3 * r['batch_s']:.0f}", f"{r['speedup']:.2f}x", f"{r['kernels_per_view']} -> {r['kernels_batch']}",
           f"{r['image_mad_batch_vs_view']:.4f} ({r['image_mad_view_vs_view']:.4f})",
           f"{r['edge_mad_batch']:.4f} / {r['interior_mad_batch']:.4f} ({r['edge_mad_view']:.4f} / "
           f"{r['interior_mad_view']:.4f})"] for r in renders]
    mr = [[m["model"], m["views"], f"{1e3 * m['singles_s']:.0f}", f"{1e3 * m['batch_s']:.0f}", f"{m['speedup']:.2f}x"]
          for m in models]
    return ("Render forward + backward of one material step (prb), medians of interleaved samples:\n\n"
            + md_table(["px", "spp", "views", "per-view ms", "batch sensor ms", "gain", "JIT launches",
                        "image MAD batch vs per-view (per-view vs per-view)",
                        "MAD at seams / interior, batch (per-view)"], rr)
            + "\n\nThe batch film's pixel filter (Gaussian, as in the per-view films) splats samples across the "
            "seam between adjacent views: the seam columns differ from the per-view render by more than the noise "
            "(last column). A box filter would avoid that but change the image statistics against the display "
            "renders, so the generator keeps one launch per view."
            + f"\n\nShape (direct_projective) with a batch sensor: {shape_note}\n\n"
            "Model forward + backward (tone map, features, distance), views one at a time vs one batch:\n\n"
            + md_table(["model", "views", "one at a time ms", "batched ms", "gain"], mr) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--name", default=None)
    args = ap.parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 9)
    if args.quick:
        rcases = [Case("material", 64, 8, "-", v) for v in (2, 8)]
        mcases = [("mobilenetv2_100", 4)]
    else:
        rcases = [Case("material", r, s, "-", v) for r in (64, 128) for s in (8,) for v in (2, 4, 8, 16)]
        mcases = [(m, v) for m in ("mobilenetv2_100", "resnet50") for v in (2, 4, 8)]
    renders = []
    for c in rcases:
        r = render_case(c, repeats)
        print(f"render {c.resolution}px {c.views} views: per-view {1e3 * r['per_view_s']:.0f} ms, batch "
              f"{1e3 * r['batch_s']:.0f} ms ({r['speedup']:.2f}x), launches {r['kernels_per_view']} -> "
              f"{r['kernels_batch']}", flush=True)
        renders.append(r)
    shape_note = shape_batch_supported(Case("shape", 32, 4, "-", 2))
    shape_note = "works" if shape_note == "ok" else f"not supported by Mitsuba 3.9.1 (`{shape_note}`); shape renders one launch per view"
    models = []
    for name, v in mcases:
        m = model_case(name, v, 64, repeats)
        print(f"model {name} {v} views: one at a time {1e3 * m['singles_s']:.0f} ms, batch {1e3 * m['batch_s']:.0f} ms "
              f"({m['speedup']:.2f}x)", flush=True)
        models.append(m)
    name = args.name or ("views_quick" if args.quick else "views")
    cmd = ".venv/bin/python benchmarks/views.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_results(name, cmd.strip(), {"renders": renders, "shape_batch_sensor": shape_note, "models": models},
                  markdown(renders, shape_note, models))
    return 0


if __name__ == "__main__":
    sys.exit(main())
