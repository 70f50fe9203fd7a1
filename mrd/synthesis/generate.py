"""From a stimulus-set config to a stimulus set: models, target scenes, metamers.

For every metamer job (scene x group x model x seed) a :class:`mrd.synthesis.metamer.Metamer` is
set up, synthesised and recorded (:class:`Generator` holds what jobs share: models, targets and
null renders). Models and target scenes are made in this process; metamer jobs run on an executor
(:mod:`mrd.synthesis.executor`) through one job function, :func:`metamer_job`, and only this
process writes the store, as results come back. Units are durable as soon as they are written, so
a re-run resumes and skips finished metamers. All seeds derive from the config's ``seed`` and the
unit's ids (:mod:`mrd.synthesis.seeds`).

Reproducibility: on one machine with Dr.Jit and torch pinned to one core (``taskset -c 0``) the
same config gives a bit-identical store (apart from timing fields); unpinned, Dr.Jit's
multi-threaded reductions change the order of floating-point sums (~6e-8) and the optimisation
amplifies that (similarities typically within 1e-2, display pixels within a few grey levels).

Examples
--------
>>> from pathlib import Path
>>> from mrd.config import load_config
>>> cfg, _ = load_config(Path(__file__).parents[2] / "stimuli" / "sets" / "demo.toml")
>>> len(cfg.jobs())
4
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mrd.config import Job, SetConfig, load_config
from mrd.synthesis.executor import JobSpec, RunContext, make_executor
from mrd.synthesis.target import Target
from stimuli.errors import MRDError
from stimuli.records import MetamerRecord


@dataclass
class GenerateSummary:
    """What a :func:`generate` run did."""

    out: Path
    made: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    scenes_made: list[str] = field(default_factory=list)
    variant: str = ""
    device: str = ""
    executor: str = "local"


class Generator:
    """What the jobs of one config share: loaded models, target scenes and null renders.

    Parameters
    ----------
    cfg : mrd.config.SetConfig
    device : str
        Torch device of the models.
    progress : bool
        Show per-step progress bars.
    """

    def __init__(self, cfg: SetConfig, device: str = "cpu", progress: bool = True) -> None:
        self.cfg, self.device, self.progress = cfg, device, progress
        self.models: dict[str, Any] = {}
        self.targets: dict[str, Target] = {}
        self._nulls: dict[tuple[str, str], np.ndarray] = {}

    def load_models(self) -> dict[str, Any]:
        """Load every model of the config (once)."""
        from mrd.models import load_model

        if not self.models:
            for spec in self.cfg.models:
                self.models[spec.model_id] = load_model(resolve_weights(spec, self.cfg.resolve), self.device)
        return self.models

    def check(self) -> None:
        """Everything about the config that can fail before any work: models and weights load, every
        scene's mesh and texture files read (:class:`stimuli.errors.MRDError` otherwise)."""
        from mrd.groups import target_params

        self.load_models()
        for spec in self.cfg.scenes:
            target_params(spec, self.cfg.resolve)

    def target(
        self, scene_id: str, stored_display: np.ndarray | None = None, stored_renders: np.ndarray | None = None
    ) -> Target:
        """The target scene (built once; its ``record`` is set when its display was rendered here)."""
        if scene_id not in self.targets:
            self.targets[scene_id] = Target.from_spec(
                self.cfg.scene(scene_id), self.cfg.render, master_seed=self.cfg.seed, resolve=self.cfg.resolve,
                display=stored_display, renders=stored_renders, sppi=self.cfg.optimize.sppi,
                sppc=self.cfg.optimize.sppc, sppp=self.cfg.optimize.sppp,
            )  # fmt: skip
        return self.targets[scene_id]

    def metamer(self, job: Job) -> Any:
        """The :class:`~mrd.synthesis.metamer.Metamer` of a job, set up (null renders cached per scene and group)."""
        from mrd.synthesis.metamer import Metamer

        models = self.load_models()
        key = (job.scene, job.group)
        m = Metamer(self.target(job.scene), models[job.model], job.group, self.cfg, model_id=job.model,
                    scoring_models=models, null_display=self._nulls.get(key), progress=self.progress,
                    store_progress=self.cfg.optimize.store_progress, layer=job.layer)  # fmt: skip
        if key not in self._nulls:
            self._nulls[key] = m.render_null()
            m.null_display_images = self._nulls[key]
        return m.setup(start=job.start, seed=job.seed)

    def make(self, job: Job) -> MetamerRecord:
        """Set up, synthesise and record one metamer."""
        return self.metamer(job).synthesize().to_record()


def resolve_weights(spec: Any, resolve: Any) -> Any:
    """The model spec with a relative weight-file path made relative to the config's folder.

    Examples
    --------
    >>> from mrd.models import ModelSpec
    >>> resolve_weights(ModelSpec(name="resnet18", layers=["layer1"], weights="w.pth"), lambda p: Path("/cfg") / p).weights
    '/cfg/w.pth'
    """
    from mrd.models.spec import WEIGHT_KEYWORDS

    if spec.weights in WEIGHT_KEYWORDS or Path(spec.weights).expanduser().is_absolute():
        return spec
    return spec.model_copy(update={"weights": str(resolve(spec.weights))})


def metamer_job(ctx: RunContext, spec: JobSpec) -> MetamerRecord:
    """The job function both executors run: one metamer from the run context and a job spec.

    Examples
    --------
    >>> callable(metamer_job)
    True
    """
    gen = ctx.state(lambda: _generator(ctx))
    gen.target(spec.job.scene, spec.target_display, spec.target_renders)
    return gen.make(spec.job)


def _generator(ctx: RunContext) -> Generator:
    from mrd.render.variant import torch_device_for, use_variant

    cfg = ctx.config()
    variant = use_variant(ctx.variant or cfg.variant)
    gen = Generator(cfg, torch_device_for(variant, ctx.device), progress=False)
    gen.variant = variant
    return gen


def _stored_displays(out: Path, scene_ids: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    from stimuli import StimulusSet

    if not out.exists() or not scene_ids:
        return {}
    with StimulusSet(out) as s:
        return {sid: (s.scene_display(sid), s.renders("scene", sid) if s.n_renders("scene", sid) else None)
                for sid in scene_ids}  # fmt: skip


def generate(
    config: str | Path,
    out: str | Path,
    *,
    variant: str | None = None,
    device: str | None = None,
    progress: bool = True,
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
    slurm: Any = None,
) -> GenerateSummary:
    """Generate (or resume) the stimulus set a config describes.

    Parameters
    ----------
    config : path-like
        The TOML config.
    out : path-like
        The store (``.h5``); created, or resumed if it was made from the same config.
    variant : str, optional
        Mitsuba variant; overrides the config's ``variant``.
    device : str, optional
        Torch device of the models (default: the renderer's: ``cuda`` for ``cuda_ad_rgb``).
    progress : bool
        Show progress bars (per metamer, and per step with loss and similarity).
    executor : {"local", "ray", "slurm"}
        Where metamer jobs run (:mod:`mrd.synthesis.executor`, :mod:`mrd.synthesis.slurm`).
    address : str, optional
        Ray only: address of a running cluster (default: start a local Ray instance).
    workers : int, optional
        Ray only: number of workers (default: one per GPU of the cluster, else one per machine).
    slurm : mrd.synthesis.slurm.SlurmOptions, optional
        SLURM only: how array tasks are requested (default options when ``None``).

    Returns
    -------
    GenerateSummary

    Examples
    --------
    >>> demo = Path(__file__).parents[2] / "stimuli" / "sets" / "demo.toml"
    >>> callable(generate) and demo.exists()
    True
    """
    from tqdm import tqdm

    from mrd.render.variant import torch_device_for, use_variant
    from stimuli import StoreWriter

    ex = make_executor(executor, address=address, workers=workers, slurm=slurm, store=out)
    cfg, text = load_config(config)
    chosen = use_variant(variant or cfg.variant)
    dev = torch_device_for(chosen, device)
    out = check_out_path(out)
    summary = GenerateSummary(out=out, variant=chosen, device=dev)
    gen = Generator(cfg, dev, progress)
    ctx = RunContext(text, str(config), str(Path(config).resolve().parent), variant, device, job=metamer_job)
    ctx.set_state(gen)  # the local executor reuses this generator (models, targets, null renders)
    jobs = cfg.jobs()
    if not out.exists():
        gen.check()  # a config that cannot work is refused before the store exists
    with StoreWriter(out, config_text=text) as w:
        todo = [j for j in jobs if not w.has_metamer(j.metamer_id)]
        summary.skipped = [j.metamer_id for j in jobs if w.has_metamer(j.metamer_id)]
        needed = [s.id for s in cfg.scenes if not w.has_scene(s.id) or any(j.scene == s.id for j in todo)]
        stored = _stored_displays(out, [sid for sid in needed if w.has_scene(sid)])
        if todo:
            for mid, m in gen.load_models().items():
                if not w.has_model(mid):
                    w.add_model(m.record)
        for sid in tqdm(needed, desc="targets", unit="scene", disable=not progress or not needed):
            t = gen.target(sid, *stored.get(sid, (None, None)))
            if t.record is not None and not w.has_scene(sid):
                w.add_scene(t.record)
                summary.scenes_made.append(sid)
        specs = [JobSpec(job, gen.targets[job.scene].display, gen.targets[job.scene].renders) for job in todo]
        with closing(ex.run(ctx, specs)) as results:  # an interrupted run stops the executor's jobs
            for record in tqdm(results, total=len(specs), desc="metamers", unit="metamer",
                               disable=not progress or not todo):  # fmt: skip
                w.add_metamer(record)
                summary.made.append(record.metamer_id)
        summary.executor = ex.describe()
    return summary


def check_out_path(out: str | Path) -> Path:
    """Refuse output paths that cannot be a store file.

    Examples
    --------
    >>> check_out_path("/tmp/x.h5").suffix
    '.h5'
    """
    p = Path(out)
    if p.exists() and p.is_dir():
        raise MRDError(f"--out {p}: is a folder; give a file name such as {p / 'set.h5'}")
    if p.suffix.lower() not in (".h5", ".hdf5"):
        raise MRDError(f"--out {p}: the stimulus set is an HDF5 file; use a name ending in .h5")
    return p
