"""Subcommand ``mrd score``: add similarities under another model to every metamer of a set.

Light to import: the model machinery is imported inside the handler.

Examples
--------
>>> import argparse
>>> p = argparse.ArgumentParser(); add_commands(p.add_subparsers())
>>> a = p.parse_args(["score", "set.h5", "--model", "resnet50", "--layers", "layer3", "layer4"])
>>> a.model, a.layers, a.weights, a.device
('resnet50', ['layer3', 'layer4'], 'default', 'cpu')
"""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``score`` to the ``mrd`` parser."""
    p = sub.add_parser(
        "score",
        help="add similarities under another model to every metamer",
        description=(
            "Compute, from the stored display images, each metamer's similarity to its target (and the "
            "null reference) under another model, and add it to the store. Metamers already scored under "
            "the model's id are skipped, so re-running changes nothing."
        ),
    )
    p.add_argument("store", help="stimulus set (.h5)")
    p.add_argument(
        "--model", required=True, help="timm model name, or 'package.module:factory' for a user module"
    )
    p.add_argument(
        "--layers",
        nargs="+",
        metavar="LAYER",
        help="layer names (timm features_only names or module paths); default: recommended layers "
        "of the model (mobilenetv2_100: blocks.2 blocks.4 blocks.6; resnet: layer2 layer3 layer4)",
    )
    p.add_argument(
        "--weights",
        default="default",
        help="'default' (offline weights for mobilenetv2_100, else hub), 'hub', 'random', or a "
        ".safetensors/.pth state dict file (default: %(default)s)",
    )
    p.add_argument("--weights-sha256", default=None, metavar="HEX", help="expected sha256 of the weight file")
    p.add_argument(
        "--id", dest="model_id", default=None, help="store key of the model (default: derived from --model)"
    )
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: %(default)s)")
    p.set_defaults(func=_score)


def _score(args: argparse.Namespace) -> int:
    from mrd.synthesis.score import make_spec, score_store

    spec = make_spec(args.model, args.layers, args.weights, args.weights_sha256, args.model_id)
    result = score_store(args.store, spec, device=args.device)
    print(
        f"{args.store}: model {result.model_id!r} (layers {', '.join(spec.layers)}): "
        f"{result.added} metamers scored, {result.skipped} already had scores"
    )
    return 0
