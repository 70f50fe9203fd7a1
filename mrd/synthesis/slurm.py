"""Metamer jobs as SLURM job arrays (``--executor slurm``), on :mod:`submitit`.

Every pending metamer job becomes one task of a SLURM job array (``sbatch --array``; arrays of at
most :data:`MAX_ARRAY` tasks, each limited to ``parallel`` running tasks). A task runs the very same
job function as the local and Ray executors (``RunContext.job``, i.e.
:func:`mrd.synthesis.generate.metamer_job`), so it makes the same metamer. Its result, a plain
:class:`stimuli.records.MetamerRecord`, comes back through submitit's result file and is written
by the one :class:`stimuli.StoreWriter` of the ``mrd generate`` process, as tasks complete: crash
safety and resume are those of the local executor.

What happens to array tasks when ``mrd generate`` stops early:

* **Interrupted or failed** (Ctrl-C, an error in this process): tasks still queued or running are
  cancelled (``scancel``); a re-run resubmits them.
* **Killed** (SIGKILL, SIGTERM, a lost login session): the tasks keep running. Every submission is
  recorded in ``FOLDER/jobs.json``; re-running the same command (same config, variant, device and
  backend) collects the results of tasks that finished, waits for those still queued or running,
  and resubmits only those that are neither.

Preemption: with ``requeue`` (the default) the task is a checkpointable callable: on SLURM's
warning signal (``USR2``, sent ``--signal`` seconds before the time limit or on preemption)
submitit requeues it with the same job spec, and the requeued task recomputes the metamer from its
seed (the same metamer: seeds derive from the config and the job id). The job array is submitted
with ``--requeue``, so SLURM itself also requeues a preempted task.

``local = True`` runs the tasks as processes on this machine through submitit's local executor
(for tests and a workstation; the same pickles, result files, resume and requeue path).

Security: submitit pickles the task (this package's job function and the job spec) and its result
between our own processes, through files in the log folder on our own file system. Keep that
folder private (it is created beside the store with mode 700); the writer checks every record it gets back.

Examples
--------
>>> opts = SlurmOptions(partition="gpu", gpus=1, sbatch=("qos=high",))
>>> opts.sbatch_parameters()
{'qos': 'high', 'requeue': True}
>>> SlurmOptions(time_min=0)
Traceback (most recent call last):
...
stimuli.errors.MRDError: --slurm-time 0: give the time limit of one task in whole minutes >= 1
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mrd.synthesis.slurm_options import SlurmOptions
from stimuli.errors import MRDError
from stimuli.records import MetamerRecord

if TYPE_CHECKING:  # annotations only: mrd.synthesis.executor imports this module lazily
    from mrd.synthesis.executor import JobSpec, RunContext

MAX_ARRAY = 1000
"""Most tasks in one job array (SLURM's default ``MaxArraySize`` is 1001)."""
_ALIVE = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED", "REQUEUE_HOLD"}


class _Task:
    """One array task: runs the run context's job function with ``threads`` torch/Dr.Jit threads."""

    def __init__(self, ctx: RunContext, threads: int) -> None:
        self.ctx, self.threads = ctx, threads

    def __call__(self, spec: JobSpec) -> MetamerRecord:
        import drjit as dr  # mrd is imported (libLLVM for Dr.Jit) by unpickling this class
        import torch

        torch.set_num_threads(self.threads)
        dr.set_thread_count(self.threads)
        _exit_hard_on_requeue()
        print(f"mrd task: metamer {spec.metamer_id} ({self.threads} threads)", file=sys.stderr, flush=True)
        return self.ctx.run_job(spec)


class _RequeueTask(_Task):
    """A task submitit requeues on preemption or time-out (it has a ``checkpoint`` method)."""

    def checkpoint(self, spec: JobSpec) -> Any:
        """The same task on the same job spec: the metamer is recomputed from its seed."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, spec)


class SlurmExecutor:
    """Runs metamer jobs as SLURM array tasks; see the module docstring.

    Parameters
    ----------
    options : SlurmOptions
    store : path-like
        The store being written (the default log folder is ``STORE.slurm/`` beside it).
    """

    name = "slurm"

    def __init__(self, options: SlurmOptions, store: str | Path) -> None:
        self.options = options
        self.folder = Path(options.folder) if options.folder else Path(str(store) + ".slurm")
        self.backend = "local" if options.local else "slurm"
        self.collected: list[str] = []
        self.submitted = 0
        self._desc = f"slurm ({self.backend})"
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise MRDError("--executor slurm: submitit is not installed; install it with "
                           "pip install 'mrd-suite[slurm]' (or pip install submitit)") from None
        missing = [c for c in ("sbatch", "srun") if shutil.which(c) is None] if self.backend == "slurm" else []
        if missing:
            raise MRDError(f"--executor slurm: {' and '.join(missing)} not on this machine's PATH; run mrd "
                           "generate on a SLURM login node, or add --slurm-local to run the tasks as local processes")

    # -- submitit ---------------------------------------------------------------------------
    def _executor(self, run_dir: Path, title: str) -> Any:
        return submitit_executor(self.options, run_dir, title, self.backend)

    def _job(self, folder: str, job_id: str) -> Any:
        from submitit.local.local import LocalJob
        from submitit.slurm.slurm import SlurmJob

        return (LocalJob if self.backend == "local" else SlurmJob)(folder=folder, job_id=job_id)

    def _alive(self, job: Any) -> bool:
        """Whether a job of an earlier run may still produce its result."""
        if job.paths.result_pickle.exists():
            return True
        if self.backend == "local":
            return _pid_running(int(job.job_id))
        try:
            return str(job.state).split()[0].upper() in _ALIVE
        except Exception:  # noqa: BLE001 - sacct unreachable: resubmit rather than wait forever
            return False

    def _done(self, job: Any, recovered: bool) -> bool:
        if job.paths.result_pickle.exists():
            return True
        if recovered and self.backend == "local":
            return not _pid_running(int(job.job_id))
        return bool(job.done())

    # -- the journal of submissions ---------------------------------------------------------------
    def _manifest_key(self, ctx: RunContext) -> str:
        return f"{ctx.key}|{self.backend}"

    def _load_manifest(self, ctx: RunContext) -> dict[str, dict[str, str]]:
        path = self.folder / "jobs.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("key") != self._manifest_key(ctx):
            return {}
        jobs = data.get("jobs")
        return {k: v for k, v in jobs.items() if isinstance(v, dict)} if isinstance(jobs, dict) else {}

    def _save_manifest(self, ctx: RunContext, jobs: dict[str, dict[str, str]]) -> None:
        path = self.folder / "jobs.json"
        tmp = path.with_name(f"jobs.json.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": self._manifest_key(ctx), "jobs": jobs}, indent=1), encoding="utf-8")
        os.replace(tmp, path)

    # -- running ----------------------------------------------------------------------------------
    def run(self, ctx: RunContext, specs: Sequence[JobSpec]) -> Iterator[MetamerRecord]:
        """Yield records as array tasks finish (completion order); see the module docstring."""
        if not specs:
            return
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # pickles: only this user may write them
        run_dir = self.folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        ex: Any = None  # made at the first submission (a resumed run may submit nothing)
        o = self.options
        task = (_RequeueTask if o.requeue else _Task)(ctx, o.threads)
        by_id = {s.metamer_id: s for s in specs}
        manifest = {k: v for k, v in self._load_manifest(ctx).items() if k in by_id}
        running: dict[str, tuple[Any, bool]] = {}
        for mid, entry in manifest.items():
            job = self._job(entry["folder"], entry["job_id"])
            if self._alive(job):
                running[mid] = (job, True)
        queue = [s for s in specs if s.metamer_id not in running]
        limit = len(specs) if self.backend == "slurm" else (o.parallel or max(1, (os.cpu_count() or 1) // o.cpus))
        self._desc = (f"slurm ({'local processes' if o.local else 'partition ' + (o.partition or 'default')}, "
                      f"{o.cpus} CPU{f' + {o.gpus} GPU' if o.gpus else ''} per task, logs in {self.folder})")
        failed: list[str] = []
        finished = False
        try:
            while queue or running:
                free = min(limit - len(running), len(queue), MAX_ARRAY)
                if free > 0:
                    batch, queue = queue[:free], queue[free:]
                    ex = ex or self._executor(run_dir, ctx.config().title)
                    jobs = ex.map_array(task, batch)
                    self.submitted += len(jobs)
                    for s, job in zip(batch, jobs, strict=True):
                        running[s.metamer_id] = (job, False)
                        manifest[s.metamer_id] = {"job_id": str(job.job_id), "folder": str(run_dir)}
                    self._save_manifest(ctx, manifest)
                done = [mid for mid, (job, rec) in running.items() if self._done(job, rec)]
                if not done:
                    time.sleep(o.poll_s or (0.5 if self.backend == "local" else 10.0))
                    continue
                for mid in done:
                    job, recovered = running.pop(mid)
                    record = self._result(job, mid, failed)
                    if record is None:
                        continue
                    if recovered:
                        self.collected.append(mid)
                    yield record  # written by the caller when it asks for the next one
                    manifest.pop(mid, None)
                    self._save_manifest(ctx, manifest)
                    for p in (job.paths.result_pickle, job.paths.submitted_pickle):
                        p.unlink(missing_ok=True)
            finished = True
        finally:
            if not finished:
                for job, _ in running.values():
                    with suppress(Exception):  # best effort: the job may be gone already
                        job.cancel(check=False)
        if failed:
            raise MRDError(f"--executor slurm: {len(failed)} of {len(specs)} metamer tasks failed "
                           f"(finished ones are in the store; re-run the same command to retry):\n  "
                           + "\n  ".join(failed))  # fmt: skip

    def _result(self, job: Any, mid: str, failed: list[str]) -> MetamerRecord | None:
        """The task's record, or ``None`` with a line appended to ``failed``."""
        where = f"{mid} (job {job.job_id}; log {job.paths.stderr})"
        try:
            record = job.result()
        except Exception as exc:  # noqa: BLE001 - submitit's FailedJobError / UncompletedJobError
            text = str(exc).split("----------------------\n")  # FailedJobError: the trace between rules
            lines = [ln.strip() for ln in (text[1] if len(text) > 2 else text[0]).splitlines() if ln.strip()]
            failed.append(f"{where}: {lines[-1] if lines else type(exc).__name__}")
            return None
        if not isinstance(record, MetamerRecord) or record.metamer_id != mid:
            got = getattr(record, "metamer_id", type(record).__name__)
            failed.append(f"{where}: returned {got!r}, not the MetamerRecord of {mid}")
            return None
        return record

    def describe(self) -> str:
        """One line for the summary."""
        extra = f", {len(self.collected)} collected from an earlier run" if self.collected else ""
        return self._desc + extra


def submitit_executor(options: SlurmOptions, folder: str | Path, title: str, backend: str = "slurm") -> Any:
    """The submitit executor that submits the array tasks of one run, with the options' parameters.

    Parameters
    ----------
    options : SlurmOptions
    folder : path-like
        The run's folder (submission scripts, pickles, logs, results).
    title : str
        The config's title (the SLURM job name is ``mrd-TITLE``).
    backend : {"slurm", "local"}
        SLURM, or submitit's local executor.

    Examples
    --------
    >>> import tempfile
    >>> ex = submitit_executor(SlurmOptions(cpus=1, time_min=30), tempfile.mkdtemp(), "demo", backend="local")
    >>> ex.cluster, ex.parameters["timeout_min"]
    ('local', 30)
    """
    import submitit

    o = options
    ex = submitit.AutoExecutor(folder=folder, cluster=backend, slurm_max_num_timeout=o.max_requeue,
                               local_max_num_timeout=o.max_requeue)  # fmt: skip
    name = "mrd-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", title)[:40] if title else "mrd"
    params: dict[str, Any] = {"name": name, "timeout_min": o.time_min,
                              "cpus_per_task": o.cpus, "gpus_per_node": o.gpus, "mem_gb": o.mem_gb}
    if backend == "slurm":
        params.update(slurm_partition=o.partition, slurm_additional_parameters=o.sbatch_parameters(),
                      slurm_array_parallelism=o.parallel or MAX_ARRAY, slurm_setup=list(o.setup) or None)
    else:
        params.update(local_setup=list(o.setup) or None)
    ex.update_parameters(**{k: v for k, v in params.items() if v is not None})
    return ex


def _exit_hard_on_requeue() -> None:
    """Make submitit's preemption handler end this process for certain once it has requeued the task.

    submitit's handler (on ``USR2``) checkpoints, requeues and then ends the task with ``sys.exit``
    from inside the signal handler. When the signal arrives in native code (a Mitsuba import, a
    Dr.Jit callback), that code turns the ``SystemExit`` into an ordinary error or swallows it, and
    the task goes on or is reported as failed. Wrapped here, the exit is ``os._exit`` with the same
    status (local backend: 144, which makes submitit's controller restart the task).
    """
    import signal

    from submitit.core.job_environment import JobEnvironment

    sig = JobEnvironment._usr_sig()
    inner = signal.getsignal(sig)
    if not callable(inner) or getattr(inner, "_mrd_wrapped", False):
        return

    def handler(signum: int, frame: Any) -> None:
        try:
            inner(signum, frame)
        except SystemExit as stop:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(stop.code if isinstance(stop.code, int) else 1)

    handler._mrd_wrapped = True  # type: ignore[attr-defined]
    signal.signal(sig, handler)


def _pid_running(pid: int) -> bool:
    """Whether a submitit task controller with this pid runs on this machine (not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X") and b"submitit" in cmdline
