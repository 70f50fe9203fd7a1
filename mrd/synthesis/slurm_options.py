"""How SLURM array tasks are requested: the ``--slurm-*`` options of ``mrd generate``.

The options are command-line flags, not a table of the stimulus-set config: the config's text is
hashed into the store, and where a set is computed must not change which set it is. Every value is
checked here, and a bad one raises :class:`stimuli.errors.MRDError` naming the flag and the value.
See :mod:`mrd.synthesis.slurm` for how they are used and docs/cluster.md for examples.

Examples
--------
>>> SlurmOptions(partition="gpu", gpus=1, sbatch=("qos=high",)).sbatch_parameters()
{'qos': 'high', 'requeue': True}
>>> SlurmOptions(sbatch=("output=x.log",))
Traceback (most recent call last):
...
stimuli.errors.MRDError: --slurm-sbatch 'output=x.log': output is set by --slurm-folder
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stimuli.errors import MRDError

RESERVED = {"array": "one array per batch", "output": "--slurm-folder", "error": "--slurm-folder",
            "partition": "--slurm-partition", "time": "--slurm-time", "cpus-per-task": "--slurm-cpus",
            "mem": "--slurm-mem", "gpus-per-node": "--slurm-gpus", "signal": "submitit's requeue signal",
            "job-name": "the config's title"}  # fmt: skip
"""sbatch options the executor sets itself (and the flag that sets them)."""

@dataclass(frozen=True)
class SlurmOptions:
    """How array tasks are requested (``mrd generate --slurm-*`` flags).

    Parameters
    ----------
    partition : str, optional
        ``--partition`` (default: the cluster's default partition).
    time_min : int
        Time limit of one task in minutes (one metamer).
    cpus : int
        CPU cores per task; torch and Dr.Jit use this many threads.
    mem_gb : float, optional
        Memory per task in GB.
    gpus : int
        GPUs per task (``--gpus-per-node``); with a GPU a task picks ``cuda_ad_rgb`` under ``variant = "auto"``.
    parallel : int, optional
        Most tasks of one array running at once (``--array=0-N%parallel``). Local backend: most
        processes at once (default: cores // cpus).
    sbatch : sequence of str
        Extra sbatch options ``KEY=VALUE`` or ``KEY`` (e.g. ``account=lab``, ``qos=high``, ``constraint=a100``).
    setup : sequence of str
        Shell lines run before each task (e.g. ``module load cuda``).
    folder : str, optional
        Log and result folder (default: ``SET.h5.slurm/`` beside the store).
    requeue : bool
        Requeue a task on preemption or time-out (the metamer is recomputed from its seed).
    max_requeue : int
        Most requeues of one task after a time-out.
    local : bool
        Run tasks as local processes (submitit's local executor) instead of submitting to SLURM.
    poll_s : float
        Seconds between checks of running tasks (0: 0.5 s locally, 10 s on SLURM).

    Examples
    --------
    >>> SlurmOptions(cpus=4).threads
    4
    """

    partition: str | None = None
    time_min: int = 240
    cpus: int = 2
    mem_gb: float | None = None
    gpus: int = 0
    parallel: int | None = None
    sbatch: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    folder: str | None = None
    requeue: bool = True
    max_requeue: int = 3
    local: bool = False
    poll_s: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        def whole(flag: str, value: Any, low: int, what: str) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise MRDError(f"{flag} {value!r}: give {what} >= {low}")

        whole("--slurm-time", self.time_min, 1, "the time limit of one task in whole minutes")
        whole("--slurm-cpus", self.cpus, 1, "the number of CPU cores per task")
        whole("--slurm-gpus", self.gpus, 0, "the number of GPUs per task")
        whole("--slurm-max-requeue", self.max_requeue, 0, "the number of requeues after a time-out")
        if self.parallel is not None:
            whole("--slurm-parallel", self.parallel, 1, "the number of tasks running at once")
        if self.mem_gb is not None and (isinstance(self.mem_gb, bool) or not isinstance(self.mem_gb, int | float)
                                        or not 0 < self.mem_gb < 1e5):  # fmt: skip
            raise MRDError(f"--slurm-mem {self.mem_gb!r}: give the memory per task in GB, > 0 (e.g. 16)")
        if self.partition is not None and not re.fullmatch(r"[A-Za-z0-9_.,-]{1,64}", self.partition):
            raise MRDError(f"--slurm-partition {self.partition!r}: give a partition name (letters, digits, _ . , -)")
        if self.folder is not None and Path(self.folder).is_file():
            raise MRDError(f"--slurm-folder {self.folder}: is a file; give a folder for logs and results")
        self.sbatch_parameters()

    @property
    def threads(self) -> int:
        """Torch and Dr.Jit threads of one task."""
        return self.cpus

    def sbatch_parameters(self) -> dict[str, str | bool]:
        """The extra sbatch options as submitit's ``slurm_additional_parameters``."""
        out: dict[str, str | bool] = {}
        for item in self.sbatch:
            key, sep, value = item.partition("=")
            key = key.strip().removeprefix("--")
            if not re.fullmatch(r"[a-z][a-z0-9-]{0,40}", key) or (sep and not value.strip()):
                raise MRDError(f"--slurm-sbatch {item!r}: give an sbatch option as KEY=VALUE or KEY, "
                               "e.g. account=mylab, qos=high, exclusive")  # fmt: skip
            if key in RESERVED:
                raise MRDError(f"--slurm-sbatch {item!r}: {key} is set by {RESERVED[key]}")
            out[key.replace("-", "_")] = value.strip() if sep else True
        if self.requeue:
            out["requeue"] = True
        return out
