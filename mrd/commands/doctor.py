"""Subcommand ``mrd doctor``.

Examples
--------
>>> import argparse
>>> p = argparse.ArgumentParser(); add_commands(p.add_subparsers())
>>> p.parse_args(["doctor", "--json"]).json
True
"""

from __future__ import annotations

import argparse
import json


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``doctor`` to the ``mrd`` parser."""
    p = sub.add_parser("doctor", help="check the installation before a long run",
                       description="Check renderer variants (with a differentiable test render), torch/timm, "
                                   "offline weights and PsychoPy. Exit 1 when something required is missing.")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--no-cuda", action="store_true", help="skip the cuda_ad_rgb check")
    p.set_defaults(func=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    from mrd.doctor import run_checks

    checks = run_checks(cuda=not args.no_cuda)
    failed = [c for c in checks if c.status == "fail"]
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        for c in checks:
            print(c.line())
        print("\nall required checks passed" if not failed else f"\n{len(failed)} required check(s) failed")
    return 1 if failed else 0
