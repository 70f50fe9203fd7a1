"""Subcommand ``mrd probe eigen|mad CONFIG --out SET.h5``: physical eigendistortions and MAD competition.

Light to import: the renderer and the models are imported inside the handler.

Examples
--------
>>> import argparse
>>> p = argparse.ArgumentParser(); add_commands(p.add_subparsers())
>>> a = p.parse_args(["probe", "mad", "probe_mad.toml", "--out", "set.h5"])
>>> a.kind, a.config, a.out, a.variant
('mad', 'probe_mad.toml', 'set.h5', None)
"""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``probe`` to the ``mrd`` parser."""
    p = sub.add_parser(
        "probe",
        help="physical eigendistortions and MAD competition (docs/probes.md)",
        description=(
            "eigen: the most and least sensitive directions of each model's Fisher information in one "
            "parameter group, rendered at steps of equal physical size. mad: scenes that maximise (and "
            "minimise) model A's activation distance while model B's is held. Both are stored as probe "
            "units in the stimulus set, usable as oddity trials. Re-running resumes."
        ),
    )
    p.add_argument("kind", choices=("eigen", "mad"), help="which probe (the config's [probe.<kind>] table)")
    p.add_argument("config", help="probe config (.toml), e.g. stimuli/sets/probe_eigen.toml")
    p.add_argument("--out", required=True, help="stimulus set to write or extend (.h5)")
    p.add_argument("--variant", default=None, help="Mitsuba variant (default: the config's, else auto)")
    p.add_argument("--device", default=None, help="torch device of the models (default: the renderer's)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_probe)


def _probe(args: argparse.Namespace) -> int:
    from mrd.probes.run import run_probes

    s = run_probes(args.kind, args.config, args.out, variant=args.variant, device=args.device,
                   progress=not args.quiet)  # fmt: skip
    print(f"{s.out}: {len(s.added)} {args.kind} probe(s) added, {len(s.skipped)} block(s) already stored")
    return 0
