"""Where metamer jobs run: in this process (``local``), on Ray workers (``ray``) or as SLURM array
tasks (``slurm``, :mod:`mrd.synthesis.slurm`).

A metamer job is independent of every other: given the run context and a :class:`JobSpec` (the job
and the stored display images of its target), the job function the context carries
(``RunContext.job``; :func:`mrd.synthesis.generate.metamer_job` for ``mrd generate``) returns the
:class:`stimuli.records.MetamerRecord`. Both executors call that one function, so they produce the
same metamers; only the process that holds the :class:`stimuli.StoreWriter` writes to the store,
as results come back (in completion order for Ray). Resume is the caller's: jobs already in the
store are never submitted.

* :class:`LocalExecutor` runs the jobs one after another in this process (a job function keeps what
  jobs share, e.g. loaded models, in the per-process state of its context: :meth:`RunContext.state`).
* :class:`RayExecutor` starts ``workers`` Ray actors (on a running cluster when ``address`` is
  given, else on a local Ray instance), each holding its own generator (models loaded once per
  actor), and keeps every actor busy with one job at a time. Where the cluster has GPUs each actor
  requests one (``num_gpus=1``; Ray sets ``CUDA_VISIBLE_DEVICES``) and picks ``cuda_ad_rgb`` under
  the config's ``variant = "auto"``; CPU actors split the cluster's cores evenly and set torch's and
  Dr.Jit's thread counts to their share. Every machine of the cluster needs this package installed
  (``pip install -e ".[cluster]"``) and the config's relative paths (mesh and texture files) under
  the same folder as on the machine that runs ``mrd generate``. Each actor holds its own state.

Reproducibility: seeds come from the config and the job ids, so a job gives the same metamer
wherever it runs, up to the floating-point order of Dr.Jit's multi-threaded gradient sums (with one
Dr.Jit thread, runs are bit-identical; with several, parameters typically differ by ~1e-4 after a
few steps: the same spread as two local runs).

Examples
--------
>>> make_executor("local").name
'local'
>>> make_executor("cluster")
Traceback (most recent call last):
...
stimuli.errors.MRDError: --executor 'cluster': use one of local, ray, slurm
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mrd.config import Job, SetConfig, parse_config
from stimuli.errors import MRDError
from stimuli.records import MetamerRecord

EXECUTORS = ("local", "ray", "slurm")


@dataclass(frozen=True)
class RunContext:
    """What every job of one ``generate`` run shares: the config and where to run it.

    Parameters
    ----------
    config_text : str
        The config file's exact text.
    source : str
        Its path (for messages).
    base_dir : str
        Folder that relative paths in the config are resolved against.
    variant : str or None
        Requested Mitsuba variant (``None``: the config's); resolved where the job runs.
    device : str or None
        Requested torch device (``None``: the renderer's); resolved where the job runs.
    job : callable, optional
        The job function ``job(ctx, spec) -> MetamerRecord`` (a module-level function, so Ray can
        send it by reference).
    """

    config_text: str
    source: str
    base_dir: str
    variant: str | None = None
    device: str | None = None
    job: Callable[[RunContext, JobSpec], MetamerRecord] | None = None

    @property
    def key(self) -> str:
        """Identity of the generator a job of this run needs (config text, folder, variant, device)."""
        h = hashlib.sha256(self.config_text.encode("utf-8")).hexdigest()[:16]
        return f"{h}|{self.base_dir}|{self.variant}|{self.device}"

    def config(self) -> SetConfig:
        """The parsed config."""
        return parse_config(self.config_text, self.source, self.base_dir)

    @classmethod
    def from_file(
        cls, path: str | Path, variant: str | None = None, device: str | None = None,
        job: Callable[[RunContext, JobSpec], MetamerRecord] | None = None,
    ) -> RunContext:  # fmt: skip
        """The context of a config file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise MRDError(f"{p}: cannot read config ({exc})") from None
        return cls(text, str(p), str(p.resolve().parent), variant, device, job)

    def state(self, factory: Callable[[], Any]) -> Any:
        """This process's state of the run (made once by ``factory``, then reused by later jobs)."""
        if self.key not in _STATE:
            _STATE[self.key] = factory()
        return _STATE[self.key]

    def set_state(self, value: Any) -> None:
        """Set this process's state of the run (e.g. the generator that rendered the targets)."""
        _STATE[self.key] = value

    def run_job(self, spec: JobSpec) -> MetamerRecord:
        """Run the context's job function on one job."""
        if self.job is None:
            raise MRDError("this run context carries no job function")
        return self.job(self, spec)


@dataclass(frozen=True)
class JobSpec:
    """One metamer job: the job and its target's stored display images ``(V, H, W, 3)`` uint8.

    The metamer is scored against exactly these images (what the store holds), wherever it runs.
    """

    job: Job
    target_display: np.ndarray
    target_renders: np.ndarray | None = None

    @property
    def metamer_id(self) -> str:
        """The store key of the metamer this job makes."""
        return self.job.metamer_id


_STATE: dict[str, Any] = {}
"""Per-process state of runs, keyed by :attr:`RunContext.key`."""


# -- executors -----------------------------------------------------------------------------------
class LocalExecutor:
    """Runs jobs one after another in this process."""

    name = "local"

    def run(self, ctx: RunContext, specs: Sequence[JobSpec]) -> Iterator[MetamerRecord]:
        """Yield each job's record as it is made (in order)."""
        for spec in specs:
            yield ctx.run_job(spec)

    def describe(self) -> str:
        """One line for the summary."""
        return "local (this process)"


class RayExecutor:
    """Runs jobs on Ray actors; see the module docstring.

    Parameters
    ----------
    address : str, optional
        A running cluster (``"auto"``, ``"HOST:6379"`` or ``"ray://HOST:10001"``); default: start a
        local Ray instance on this machine (shut down again afterwards).
    workers : int, optional
        Number of actors. Default: one per GPU of the cluster, else one per machine.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise MRDError(f"--workers {workers}: give a positive number of Ray workers")
        self.address, self.workers = address, workers
        self._started = False
        self._desc = "ray"

    def _init(self) -> Any:
        try:
            import ray
        except ImportError:
            raise MRDError("--executor ray: Ray is not installed; install it with "
                           "pip install 'mrd-suite[cluster]' (or pip install 'ray[default]')") from None
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, include_dashboard=False, logging_level="WARNING",
                         log_to_driver=False, configure_logging=True)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"cluster at --address {self.address}" if self.address else "a local Ray instance"
                raise MRDError(f"--executor ray: cannot start or reach {where} ({exc})") from None
            self._started = True
        return ray

    def _plan(self, ray: Any) -> tuple[int, float, float]:
        res = ray.cluster_resources()
        gpus, cpus = float(res.get("GPU", 0.0)), float(res.get("CPU", 1.0))
        nodes = max(1, sum(1 for n in ray.nodes() if n.get("Alive")))
        workers = self.workers or (int(gpus) if gpus >= 1 else nodes)
        if gpus >= 1 and workers > gpus:
            raise MRDError(f"--workers {workers}: the Ray cluster has {int(gpus)} GPUs and each worker takes one")
        per_cpu = max(1.0, float(int(cpus // workers)))
        if per_cpu * workers > cpus:
            per_cpu = max(0.01, cpus / workers)
        return workers, (1.0 if gpus >= 1 else 0.0), per_cpu

    def run(self, ctx: RunContext, specs: Sequence[JobSpec]) -> Iterator[MetamerRecord]:
        """Yield records as workers finish them (completion order)."""
        if not specs:
            return
        ray = self._init()
        actors: list[Any] = []
        try:
            workers, gpu, cpu = self._plan(ray)
            workers = min(workers, len(specs))
            actor_cls = ray.remote(_Worker).options(num_cpus=cpu, num_gpus=gpu, max_restarts=0)
            actors = [actor_cls.remote(ctx, max(1, int(cpu))) for _ in range(workers)]
            self._desc = f"ray ({workers} workers, {cpu:g} CPU{' + 1 GPU' if gpu else ''} each)"
            todo = list(specs)[::-1]
            running: dict[Any, tuple[Any, str]] = {}
            for a in actors:
                if todo:
                    s = todo.pop()
                    running[a.run.remote(s)] = (a, s.metamer_id)
            while running:
                done, _ = ray.wait(list(running), num_returns=1)
                ref = done[0]
                actor, mid = running.pop(ref)
                try:
                    record = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    raise MRDError(f"--executor ray: metamer {mid} failed on a worker: {_root_cause(exc)}") from None
                if todo:
                    s = todo.pop()
                    running[actor.run.remote(s)] = (actor, s.metamer_id)
                yield record
        finally:
            for a in actors:
                ray.kill(a)
            if self._started:
                ray.shutdown()
                self._started = False

    def describe(self) -> str:
        """One line for the summary."""
        return self._desc


def _root_cause(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    return f"{type(cause).__name__}: {cause}" if cause is not None else str(exc).splitlines()[0]


class _Worker:
    """A Ray actor: runs the context's job function (its state lives in the actor's process)."""

    def __init__(self, ctx: RunContext, threads: int) -> None:
        import drjit as dr  # this module imported mrd first (libLLVM for Dr.Jit)
        import torch

        torch.set_num_threads(threads)
        dr.set_thread_count(threads)
        self.ctx = ctx

    def run(self, spec: JobSpec) -> MetamerRecord:
        return self.ctx.run_job(spec)


def make_executor(
    name: str = "local", *, address: str | None = None, workers: int | None = None, slurm: Any = None,
    store: str | Path = "set.h5",
) -> Any:  # fmt: skip
    """The executor called ``name`` (``local``, ``ray`` or ``slurm``).

    ``slurm`` (a :class:`mrd.synthesis.slurm.SlurmOptions`, default options when ``None``) and
    ``store`` (whose folder holds the SLURM logs) apply to ``slurm`` only.

    Examples
    --------
    >>> make_executor("ray", workers=2).workers
    2
    >>> from mrd.synthesis.slurm_options import SlurmOptions
    >>> make_executor("slurm", slurm=SlurmOptions(local=True), store="/data/set.h5").folder
    PosixPath('/data/set.h5.slurm')
    """
    if slurm is not None and name != "slurm":
        raise MRDError("the --slurm-* options apply to --executor slurm only")
    if name == "slurm":
        if address is not None or workers is not None:
            raise MRDError("--address and --workers apply to --executor ray only")
        from mrd.synthesis.slurm import SlurmExecutor, SlurmOptions

        return SlurmExecutor(slurm if slurm is not None else SlurmOptions(), store)
    if name == "local":
        if address is not None or workers is not None:
            raise MRDError("--address and --workers apply to --executor ray only")
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address, workers)
    raise MRDError(f"--executor {name!r}: use one of {', '.join(EXECUTORS)}")
