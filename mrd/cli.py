"""The ``mrd`` command line: one entry point, subcommands in workflow order.

Each package contributes its subcommands through a light ``commands`` module (heavy imports happen
inside the handlers), so ``mrd --help`` is fast and ``mrd analyze`` never imports torch or Mitsuba.

Examples
--------
>>> main(["--version"])  # doctest: +SKIP
mrd 0.1.0
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import MutableMapping, Sequence

from stimuli.errors import MRDError

THREAD_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}
"""Environment defaults the ``mrd`` command sets before torch loads, unless the user set them.

torch's OpenMP threads spin-wait at barriers by default; on a shared machine a spinning thread
waits for a descheduled one (``benchmarks/results/threads.md``; docs/generate.md, "Threads")."""


def apply_thread_defaults(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Set :data:`THREAD_DEFAULTS` in ``environ`` where the user has not set them; return what was set.

    Called when :mod:`mrd.cli` is imported (the ``mrd`` command imports it first), so it takes effect
    when the command later loads torch (libgomp reads its environment once, when it loads).

    Examples
    --------
    >>> apply_thread_defaults({})
    {'OMP_WAIT_POLICY': 'PASSIVE'}
    >>> apply_thread_defaults({"OMP_WAIT_POLICY": "ACTIVE"})
    {}
    """
    added = {k: v for k, v in THREAD_DEFAULTS.items() if k not in environ}
    environ.update(added)
    return added


apply_thread_defaults()

COMMAND_MODULES = (
    "mrd.commands.doctor",
    "mrd.commands.generate",
    "stimuli.commands",
    "mrd.commands.score",
    "mrd.commands.probe",
    "psychophysics.commands",
    "psychophysics.online.commands",
    "analysis.commands",
    "mrd.commands.demo",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every available subcommand.

    Examples
    --------
    >>> "inspect" in build_parser().format_help()
    True
    """
    from mrd import __version__

    parser = argparse.ArgumentParser(
        prog="mrd",
        description="Model metamers rendered differentiably: generate stimuli, run oddity experiments, analyse.",
    )
    parser.add_argument("--version", action="version", version=f"mrd {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    User errors (:class:`stimuli.errors.MRDError`) are printed without a traceback (exit 2).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except MRDError as exc:
        print(f"mrd: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mrd: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `mrd inspect SET.h5 | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
