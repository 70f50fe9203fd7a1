"""Subcommands ``mrd inspect``, ``mrd export`` and ``mrd pack``.

Examples
--------
>>> import argparse
>>> p = argparse.ArgumentParser(); add_commands(p.add_subparsers())
>>> p.parse_args(["inspect", "set.h5", "--json"]).json
True
"""

from __future__ import annotations

import argparse
import json
import sys


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``inspect``, ``export`` and ``pack`` to the ``mrd`` parser."""
    p = sub.add_parser("inspect", help="summarise, validate or draw a stimulus set",
                       description="Print a readable summary of a stimulus set (HDF5).")
    p.add_argument("store", help="stimulus set (.h5)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--validate", action="store_true",
                   help="check the file against the schema; exit 1 naming every problem")
    p.add_argument("--sheet", metavar="PNG", help="write a contact sheet of target/metamer pairs")
    p.set_defaults(func=_inspect)

    e = sub.add_parser("export", help="write display images as PNGs with a manifest CSV")
    e.add_argument("store", help="stimulus set (.h5)")
    e.add_argument("out_dir", help="destination folder")
    e.set_defaults(func=_export)

    k = sub.add_parser("pack", help="pack the finished units a writer left in SET.h5.journal/ into the set",
                       description="Pack a stimulus set: move the finished units in SET.h5.journal/ (left by "
                       "an interrupted `mrd generate` or `mrd score`) into SET.h5, crash-safely. A set that "
                       "is already packed is left as it is.")
    k.add_argument("store", help="stimulus set (.h5)")
    k.set_defaults(func=_pack)


def _inspect(args: argparse.Namespace) -> int:
    from stimuli.summary import format_summary, summarize
    from stimuli.validate import validate_store

    if args.validate:
        problems = validate_store(args.store, progress=True)
        if problems:
            print(f"{args.store}: INVALID ({len(problems)} problems)", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            return 1
        from stimuli.journal import journal_dir, unit_files

        pending = len(unit_files(journal_dir(args.store)))
        note = f" (as of its last pack; {pending} finished units wait in the journal: `mrd pack {args.store}`)"
        print(f"{args.store}: valid{note if pending else ''}")
        if not (args.json or args.sheet):
            return 0
    summary = summarize(args.store)
    if args.sheet:
        from stimuli.sheet import contact_sheet

        print(f"contact sheet written to {contact_sheet(args.store, args.sheet)}")
    if args.json:
        print(json.dumps(summary, indent=2))
    elif not args.sheet:
        print(format_summary(summary))
    return 0


def _export(args: argparse.Namespace) -> int:
    from stimuli.export import export_pngs

    manifest = export_pngs(args.store, args.out_dir)
    print(f"images and manifest written: {manifest}")
    return 0


def _pack(args: argparse.Namespace) -> int:
    from pathlib import Path

    from stimuli.journal import journal_dir, unit_files
    from stimuli.writer import StoreWriter

    path = Path(args.store)
    if not path.is_file():
        from stimuli.errors import MRDError

        raise MRDError(f"{path}: no such stimulus set")
    n = len(unit_files(journal_dir(path)))
    StoreWriter(path, progress=True).close()
    print(f"{path}: packed {n} journal units" if n else f"{path}: already packed (no journal units)")
    return 0
