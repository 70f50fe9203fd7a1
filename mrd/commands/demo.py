"""Subcommand ``mrd demo``.

Examples
--------
>>> import argparse
>>> p = argparse.ArgumentParser(); add_commands(p.add_subparsers())
>>> p.parse_args(["demo"]).out
'demo_output'
"""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``demo`` to the ``mrd`` parser."""
    p = sub.add_parser("demo", help="the whole loop on the built-in demo set: generate, experiment, analyse",
                       description="Generate the demo stimulus set, run three simulated participants through the "
                                   "oddity session, analyse, and write report.html. Stages already done in --out are "
                                   "skipped.")
    p.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    p.add_argument("--config", help="stimulus-set config (default: the shipped stimuli/sets/demo.toml)")
    p.add_argument("--experiment-config", help="experiment config (default: psychophysics/experiments/demo.toml)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--window", dest="windowed", action="store_true", default=None,
                      help="force the real PsychoPy session (needs a display)")
    mode.add_argument("--no-window", dest="windowed", action="store_false",
                      help="use the window-less simulation")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from mrd.demo import run_demo

    run_demo(args.out, config=args.config, experiment_config=args.experiment_config, windowed=args.windowed)
    return 0
