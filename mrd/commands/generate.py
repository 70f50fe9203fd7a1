"""The ``mrd generate`` subcommand (light to import: the generator loads inside the handler).

Examples
--------
>>> import argparse
>>> p = argparse.ArgumentParser(); add_commands(p.add_subparsers())
>>> p.parse_args(["generate", "demo.toml", "--out", "set.h5"]).variant
"""

from __future__ import annotations

import argparse
import sys

GENERATE_HELP = """\
Make a stimulus set from a config: render the target scenes, optimise one parameter group per
metamer until the model's activations match the target's, score every metamer under every model
of the config against a null reference, and store it all in one HDF5 file. Re-running the same
command resumes: finished metamers are skipped. Example:

  mrd generate stimuli/sets/demo.toml --out demo.h5
  mrd generate stimuli/sets/pilot.toml --out pilot.h5 --executor ray --address auto --workers 4
  mrd generate stimuli/sets/pilot.toml --out pilot.h5 --executor slurm --slurm-partition gpu --slurm-gpus 1

Running on Ray and SLURM clusters: docs/cluster.md.
"""

SLURM_FLAGS = {  # flag -> (SlurmOptions field, type, metavar, help)
    "--slurm-partition": ("partition", str, "NAME", "partition of the array tasks (default: the cluster's)"),
    "--slurm-time": ("time_min", int, "MIN", "time limit of one task (one metamer) in minutes (default 240)"),
    "--slurm-cpus": ("cpus", int, "N", "CPU cores per task; torch and Dr.Jit use as many threads (default 2)"),
    "--slurm-mem": ("mem_gb", float, "GB", "memory per task in GB (default: the partition's)"),
    "--slurm-gpus": ("gpus", int, "N", "GPUs per task (default 0); a GPU task renders with cuda_ad_rgb"),
    "--slurm-parallel": ("parallel", int, "N", "most tasks of an array running at once (default: no limit; "
                         "--slurm-local: cores // cpus)"),
    "--slurm-max-requeue": ("max_requeue", int, "N", "most requeues of one task after time-outs (default 3)"),
    "--slurm-folder": ("folder", str, "DIR", "logs and results of the tasks (default: OUT.slurm/ beside the store)"),
}
"""The valued ``--slurm-*`` flags of ``mrd generate``."""



def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``generate`` to the ``mrd`` command line."""
    p = subparsers.add_parser(
        "generate",
        help="make (or resume) a stimulus set of model metamers from a TOML config",
        description=GENERATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", help="stimulus-set config (TOML), e.g. stimuli/sets/demo.toml")
    p.add_argument("--out", required=True, help="the stimulus set to write (.h5); resumed if it exists")
    p.add_argument(
        "--variant",
        default=None,
        help="Mitsuba variant: auto, cuda_ad_rgb or llvm_ad_rgb (default: the config's, else auto)",
    )
    p.add_argument(
        "--device",
        default=None,
        help="torch device of the models: auto, cpu, cuda, cuda:N (default: the renderer's)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--executor", choices=("local", "ray", "slurm"), default="local",
                   help="where metamer jobs run: this process (local, default), Ray workers (ray; "
                        "needs the 'cluster' extra) or SLURM job arrays (slurm); only this process "
                        "writes the store")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="ray: address of a running Ray cluster, e.g. auto or ray://HOST:10001 "
                        "(default: start a local Ray instance on this machine)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="ray: number of workers (default: one per GPU of the cluster, else one per machine)")
    g = p.add_argument_group("SLURM (--executor slurm; needs the 'slurm' extra; see docs/cluster.md)")
    for flag, (dest, kind, metavar, text) in SLURM_FLAGS.items():
        g.add_argument(flag, dest=f"slurm_{dest}", type=kind, default=None, metavar=metavar, help=text)
    g.add_argument("--slurm-sbatch", dest="slurm_sbatch", action="append", default=None, metavar="KEY=VALUE",
                   help="extra sbatch option, repeatable: e.g. account=mylab, qos=high, constraint=a100")
    g.add_argument("--slurm-setup", dest="slurm_setup", action="append", default=None, metavar="LINE",
                   help="shell line run before each task, repeatable: e.g. 'module load cuda'")
    g.add_argument("--slurm-no-requeue", dest="slurm_requeue", action="store_false", default=None,
                   help="do not requeue a preempted or timed-out task (default: requeue; its metamer is "
                        "recomputed from its seed)")
    g.add_argument("--slurm-local", dest="slurm_local", action="store_true", default=None,
                   help="run the array tasks as processes on this machine (submitit's local executor)")
    p.set_defaults(func=run_generate)


def slurm_options(args: argparse.Namespace) -> object | None:
    """The :class:`mrd.synthesis.slurm.SlurmOptions` of the given ``--slurm-*`` flags (``None``: none given).

    Examples
    --------
    >>> slurm_options(argparse.Namespace(slurm_cpus=4, slurm_sbatch=["qos=high"])).cpus
    4
    >>> slurm_options(argparse.Namespace(slurm_cpus=None)) is None
    True
    """
    given = {k.removeprefix("slurm_"): v for k, v in vars(args).items() if k.startswith("slurm_") and v is not None}
    if not given:
        return None
    from mrd.synthesis.slurm_options import SlurmOptions

    for key in ("sbatch", "setup"):
        if key in given:
            given[key] = tuple(given[key])
    return SlurmOptions(**given)


def run_generate(args: argparse.Namespace) -> int:
    """Handler of ``mrd generate``; prints a one-line summary per outcome."""
    from mrd.synthesis.generate import generate

    s = generate(args.config, args.out, variant=args.variant, device=args.device, progress=not args.quiet,
                 executor=args.executor, address=args.address, workers=args.workers, slurm=slurm_options(args))
    print(
        f"{s.out}: {len(s.made)} metamers made, {len(s.skipped)} already present, "
        f"{len(s.scenes_made)} target scenes rendered (variant {s.variant}, device {s.device}, "
        f"executor {s.executor})",
        file=sys.stdout,
    )
    return 0
