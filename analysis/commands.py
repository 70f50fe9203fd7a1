"""``mrd analyze`` (light to import: the work is imported inside the handler).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="mrd")
>>> add_commands(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["analyze", "--trials", "t.csv", "--out", "o", "--condition-col", "model",
...                           "--condition-col", "presentation"])
>>> args.trials, args.condition_col, args.item_col
('t.csv', ['model', 'presentation'], None)
"""

from __future__ import annotations

import argparse
import sys

from analysis.options import float_in, int_in, int_list_in

MAX_SEED = 2**32 - 1
"""Largest seed (numpy's legacy seeding limit, so a seed means the same everywhere)."""


def _analyze(args: argparse.Namespace) -> int:
    from analysis.api import analyze
    from stimuli.errors import MRDError

    if args.trials is None and (args.stimuli is None or args.data is None):
        raise MRDError("give --stimuli SET.h5 and --data DIR (session data), or --trials CSV (a tidy table)")
    if args.trials is not None and (args.stimuli is not None or args.data is not None):
        raise MRDError("--trials cannot be combined with --stimuli/--data; choose one entry")
    methods = args.mixed_method or ("laplace",)
    bayes = _bayes_options(args) if "bayes" in methods and not args.no_mixed else None
    res = analyze(
        stimuli=args.stimuli,
        data=args.data,
        trials=args.trials,
        out=args.out,
        participant_col=args.participant_col,
        item_cols=args.item_col or ["item"],
        condition_cols=args.condition_col if args.condition_col is not None else ["condition"],
        correct_col=args.correct_col,
        x_col=args.x_col,
        group_col=args.group_col,
        similarity_model=args.similarity_model,
        sigma=args.sigma,
        run_mixed=not args.no_mixed,
        formula=args.formula,
        random=args.random or ("participant", "item"),
        link=args.link,
        mixed_methods=methods,
        bayes_options=bayes,
        gee=args.gee,
        psychometric_backend=args.psychometric_backend,
        n_boot=args.n_boot,
        seed=args.seed,
        progress=not args.quiet,
    )
    fit = res.mixed.bayes if res.mixed is not None else None
    if fit is not None and not fit.converged:  # refuse: the other outputs stand, the Bayesian numbers do not
        raise MRDError(f"{fit.refusal()}. The other results were written to {args.out}")
    a = res.data.analysed
    print(
        f"analysed {len(a)} trials from {a['participant'].nunique()} participants; "
        f"{len(res.files)} files in {args.out} (open {args.out}/report.html)"
    )
    return 0


def _bayes_options(args: argparse.Namespace) -> dict:
    """Sampler settings of ``--mixed-method bayes``, checked before any work (and the extra installed)."""
    from analysis.bayes import check_settings, require

    require()
    opts = {
        "draws": args.bayes_draws,
        "tune": args.bayes_tune,
        "chains": args.bayes_chains,
        "target_accept": args.bayes_target_accept,
    }
    check_settings(level=0.95, **opts)
    return {**opts, "seed": args.seed if args.bayes_seed is None else args.bayes_seed}


def _power(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from matplotlib.figure import Figure

    from analysis import power
    from analysis.api import _blas_limit
    from analysis.figures import plot_power
    from analysis.report import save_figure
    from stimuli.errors import MRDError

    if (args.stimuli is None) == (args.trials is None):
        raise MRDError("give --stimuli SET.h5 or --trials CSV (with --item-col/--x-col), one of them")
    items = (
        power.items_from_store(args.stimuli)
        if args.stimuli
        else power.items_from_table(args.trials, args.item_col or ["item"], args.x_col)
    )
    with _blas_limit(1):
        table = power.power_grid(
            items,
            args.participants,
            args.repeats,
            args.items,
            effect=args.effect,
            baseline_pc=args.baseline_pc,
            sd_participant=args.sd_participant,
            sd_item=args.sd_item,
            n_sims=args.n_sims,
            alpha=args.alpha,
            seed=args.seed,
            progress=not args.quiet,
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "power.csv", index=False)
    pred = "similarity" if "similarity" in items else "distance"
    text = power.effect_text(
        args.effect, pred, args.baseline_pc, args.sd_participant, args.sd_item, args.alpha
    )
    fig = Figure(figsize=(6.8, 4.2))
    plot_power(table, ax=fig.subplots(), effect=text)
    save_figure(fig, out / "power")
    (out / "power.json").write_text(
        json.dumps(
            {
                "source": str(args.stimuli or args.trials),
                "effect": text,
                "n_sims": args.n_sims,
                "seed": args.seed,
                "model": power.__doc__.split("\n\n")[1],
            },
            indent=2,
        )
    )
    best = table.loc[table["power"].idxmax()]
    print(
        f"power for {text}: {best['power']:.2f} at best ({int(best['participants'])} participants x "
        f"{int(best['repeats'])} repeats x {int(best['items'])} items); {out}/power.csv and power.png"
    )
    return 0


def add_power(subparsers: argparse._SubParsersAction) -> None:
    """Add ``power`` to the ``mrd`` command line."""
    p = subparsers.add_parser(
        "power",
        help="power by simulation: simulated observers, each data set analysed as mrd analyze does",
        description="Simulate studies over a grid of participants x repeats (x items) on the items of a "
        "stimulus set (--stimuli) or a trial table (--trials with --item-col and --x-col), analyse each "
        "with the Laplace mixed model and report the share detecting the stated effect. Writes "
        "OUT/power.csv, OUT/power.png|svg and OUT/power.json.",
    )
    p.add_argument(
        "--stimuli", metavar="SET.h5", help="items and their model similarities from a stimulus set"
    )
    p.add_argument("--trials", metavar="CSV", help="items and a numeric predictor from a trial table")
    p.add_argument(
        "--item-col", action="append", metavar="COL", help="item column of --trials (default item)"
    )
    p.add_argument(
        "--x-col", metavar="COL", help="numeric predictor of --trials (default: similarity/distance)"
    )
    p.add_argument("--out", required=True, metavar="OUT", help="output folder")
    p.add_argument("--participants", type=int_list_in(2, 10_000), default=[4, 8, 16], metavar="N,N",
                   help="participants per study, each 2..10000 (default 4,8,16)")  # fmt: skip
    p.add_argument("--repeats", type=int_list_in(1, 10_000), default=[5, 10], metavar="N,N",
                   help="repeats per item, each 1..10000 (default 5,10)")  # fmt: skip
    p.add_argument("--items", type=int_list_in(2, 100_000), metavar="N,N",
                   help="items per study, each 2..100000 (default: all)")  # fmt: skip
    p.add_argument("--effect", type=float_in(-20, 20), default=-0.5,
                   help="log-odds per SD of the predictor, -20..20 (default -0.5: more similar, harder)")  # fmt: skip
    p.add_argument("--baseline-pc", type=float_in(1 / 3, 1, lo_open=True, hi_open=True), default=0.7,
                   help="pc of a typical observer and item, between the guess rate 1/3 and 1 (default 0.7)")  # fmt: skip
    p.add_argument("--sd-participant", type=float_in(0, 10), default=0.5,
                   help="random-intercept SD, 0..10 (default 0.5)")  # fmt: skip
    p.add_argument("--sd-item", type=float_in(0, 10), default=0.5, help="random-intercept SD, 0..10 (default 0.5)")
    p.add_argument("--n-sims", type=int_in(1, 100_000), default=100,
                   help="simulated studies per grid point, 1..100000 (default 100)")  # fmt: skip
    p.add_argument("--alpha", type=float_in(0, 1, lo_open=True, hi_open=True), default=0.05,
                   help="significance level, in (0, 1) (default 0.05)")  # fmt: skip
    p.add_argument("--seed", type=int_in(0, MAX_SEED), default=0, help=f"seed, 0..{MAX_SEED} (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_power)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``analyze`` and ``power`` to the ``mrd`` command line."""
    add_power(subparsers)
    p = subparsers.add_parser(
        "analyze",
        help="analyse oddity data: tables, figures and report.html",
        description="Analyse oddity sessions against their stimulus set (--stimuli SET.h5 --data DIR), "
        "or any tidy trial table (--trials CSV with column options). Writes OUT/tables/*.csv, "
        "OUT/figures/*.png|svg, OUT/report.html and OUT/analysis.json.",
    )
    p.add_argument("--stimuli", metavar="SET.h5", help="the stimulus set the sessions were run with")
    p.add_argument(
        "--data", metavar="DIR", help="folder of session files (sub-*_ses-*_trials.csv + _session.json)"
    )
    p.add_argument("--trials", metavar="CSV", help="generic entry: a tidy table, one row per oddity trial")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder")
    g = p.add_argument_group("generic entry (--trials): column mapping")
    g.add_argument("--participant-col", default="participant", metavar="COL", help="default: participant")
    g.add_argument(
        "--item-col", action="append", metavar="COL", help="item column (repeat to combine; default item)"
    )
    g.add_argument(
        "--condition-col",
        action="append",
        metavar="COL",
        help="condition column (repeat for a factorial, e.g. model and presentation; default condition)",
    )
    g.add_argument(
        "--correct-col", default="correct", metavar="COL", help="0/1 correctness (default: correct)"
    )
    g.add_argument("--group-col", metavar="COL", help="column for per-group fits (default: the condition)")
    g.add_argument("--x-col", metavar="COL", help="numeric stimulus difference, used as model distance")
    m = p.add_argument_group("analysis options")
    m.add_argument(
        "--similarity-model",
        metavar="MODEL_ID",
        help="model whose similarity is the predictor (default: each metamer's generating model)",
    )
    m.add_argument("--sigma", type=float_in(0, 1000, lo_open=True), metavar="S",
                   help="model-observer noise, in (0, 1000] (default: fitted to the humans)")  # fmt: skip
    m.add_argument("--n-boot", type=int_in(1, 100_000), default=1000, metavar="N",
                   help="bootstrap replicates, 1..100000 (default 1000)")  # fmt: skip
    m.add_argument("--seed", type=int_in(0, MAX_SEED), default=0, help=f"bootstrap seed, 0..{MAX_SEED} (default 0)")
    m.add_argument("--no-mixed", action="store_true", help="skip the mixed models")
    m.add_argument(
        "--formula",
        metavar="F",
        help="mixed model, lme4-style, e.g. 'correct ~ C(model) * C(presentation) + (1 + presentation | "
        "participant) + (1 | item)' (default: similarity_z * C(group), or the condition factorial)",
    )
    m.add_argument(
        "--random",
        action="append",
        metavar="TERM",
        help="random-effects term, e.g. participant or '(1 + presentation | item)' (repeat; default: "
        "random intercepts for participant and item)",
    )
    m.add_argument(
        "--link",
        choices=("logit", "oddity"),
        default="logit",
        help="oddity: pc = 1/3 + 2/3 logistic(eta) (guess rate 1/3, psyphy's mafc.logit(3)); default logit",
    )
    m.add_argument(
        "--mixed-method",
        action="append",
        choices=("laplace", "vb", "map", "bayes"),
        help="mixed-model fit (repeat for several; default laplace, as lme4's glmer; bayes: PyMC's NUTS, "
        "optional extra mrd-suite[bayes], reported only when converged)",
    )
    b = p.add_argument_group("full-Bayesian mixed model (--mixed-method bayes)")
    b.add_argument("--bayes-draws", type=int_in(4, 1_000_000), default=1000, metavar="N",
                   help="draws per chain, 4..1000000 (default 1000)")  # fmt: skip
    b.add_argument("--bayes-tune", type=int_in(0, 1_000_000), default=1000, metavar="N",
                   help="tuning steps per chain, 0..1000000 (default 1000)")  # fmt: skip
    b.add_argument("--bayes-chains", type=int_in(2, 64), default=4, metavar="N",
                   help="chains, 2..64 (R-hat compares chains; default 4)")  # fmt: skip
    b.add_argument("--bayes-seed", type=int_in(0, MAX_SEED), metavar="S",
                   help=f"sampler seed, 0..{MAX_SEED} (default: --seed)")  # fmt: skip
    b.add_argument("--bayes-target-accept", type=float_in(0, 1, lo_open=True, hi_open=True), default=0.9,
                   metavar="P", help="NUTS target acceptance in (0, 1); raise it if divergences are "
                   "reported (default 0.9)")  # fmt: skip
    m.add_argument(
        "--psychometric-backend",
        choices=("ml", "psignifit"),
        default="ml",
        help="psychometric fits: built-in maximum likelihood (default) or psignifit 4 (optional extra)",
    )
    m.add_argument(
        "--gee",
        action="store_true",
        help="also fit the fixed part by GEE (robust SEs; ignores the item effect)",
    )
    m.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_analyze)


def main(argv: list[str] | None = None) -> int:
    """Run ``analyze`` on its own (as ``mrd`` does): MRDError -> message, exit 2.

    Examples
    --------
    >>> main(["analyze", "--out", "/tmp/x"])
    2
    """
    from stimuli.errors import MRDError

    parser = argparse.ArgumentParser(prog="mrd")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except MRDError as exc:
        print(f"mrd {args.command}: error: {exc}", file=sys.stderr)
        return 2
