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
from collections.abc import Sequence

from stimuli.errors import MRDError

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
