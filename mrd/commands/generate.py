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
"""


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
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where metamer jobs run: this process (local, default) or Ray workers (ray; "
                        "needs the 'cluster' extra); only this process writes the store")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="ray: address of a running Ray cluster, e.g. auto or ray://HOST:10001 "
                        "(default: start a local Ray instance on this machine)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="ray: number of workers (default: one per GPU of the cluster, else one per machine)")
    p.set_defaults(func=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    """Handler of ``mrd generate``; prints a one-line summary per outcome."""
    from mrd.synthesis.generate import generate

    s = generate(args.config, args.out, variant=args.variant, device=args.device, progress=not args.quiet,
                 executor=args.executor, address=args.address, workers=args.workers)
    print(
        f"{s.out}: {len(s.made)} metamers made, {len(s.skipped)} already present, "
        f"{len(s.scenes_made)} target scenes rendered (variant {s.variant}, device {s.device}, "
        f"executor {s.executor})",
        file=sys.stdout,
    )
    return 0
