"""``mrd experiment`` and ``mrd simulate`` (light to import: the work is imported inside the handlers).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="mrd")
>>> add_commands(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["simulate", "set.h5", "--observers", "3", "--observer", "chance"])
>>> args.observers, args.observer, args.data_dir
(3, 'chance', 'data')
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

OBSERVER_NAMES = ("oracle", "chance", "model", "psychometric")


def _check_display() -> None:
    from stimuli.errors import MRDError

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise MRDError(
            "mrd experiment needs a display (DISPLAY is not set): run it on the lab computer's screen, "
            'or headless under Xvfb: xvfb-run -a -s "-screen 0 1920x1080x24" mrd experiment ...'
        )


def _fullscreen(args: argparse.Namespace) -> bool:
    """Participants get full screen; ``--windowed`` (development) and simulated observers a window."""
    if args.fullscreen and args.windowed:
        from stimuli.errors import MRDError

        raise MRDError("--fullscreen and --windowed exclude each other")
    if args.fullscreen:
        return True
    return not (args.windowed or args.simulate)


def check_layout(config: Any, stimuli_path: str, fullscreen: bool) -> None:
    """Refuse images that do not fit the window before any session file is written."""
    from psychophysics.display import layout, px_per_degree
    from stimuli import StimulusSet

    m = config.monitor
    with StimulusSet(stimuli_path) as store:
        if not store.scene_ids:
            return
        hw = store.scene_display(store.scene_ids[0]).shape[1:3]
    ppd = px_per_degree(m.resolution[0], m.width_cm, m.distance_cm)
    layout(config.presentation, tuple(m.resolution if fullscreen else m.window_size), ppd, hw)


def _experiment(args: argparse.Namespace) -> int:
    from pathlib import Path

    from psychophysics.config import load_config
    from psychophysics.datafile import check_folder
    from psychophysics.observers import make_observer
    from psychophysics.preparation import prepare
    from psychophysics.session import OdditySession, ask_participant
    from stimuli.errors import MRDError

    fullscreen = _fullscreen(args)
    check_folder(Path(args.data_dir), "--data-dir")
    if args.screenshot_dir:
        check_folder(Path(args.screenshot_dir), "--screenshot-dir")
    participant, session = args.participant, args.session
    if args.gui:
        _check_display()
        participant, session = ask_participant(participant, session)
    if not participant:
        raise MRDError("--participant is required (or use --gui to enter it in a dialog)")

    def before_start() -> None:  # after the input checks (no display needed), before any file is written
        if not args.resume:
            check_layout(load_config(args.config), args.stimuli, fullscreen)
        _check_display()

    prep = prepare(
        args.stimuli, participant, session, args.config, args.data_dir, resume=args.resume,
        observer=args.simulate, before_start=before_start,
    )  # fmt: skip
    for note in prep.notes:
        print(note)
    try:
        observer = None
        if args.simulate:
            observer = make_observer(args.simulate, prep.config, prep.store)
            prep.sidecar.update(observer=observer.name, observer_params=observer.params)
        start = prep.n_done
        try:
            n_done, reason = OdditySession(
                prep, fullscreen=fullscreen, observer=observer, screenshot_dir=args.screenshot_dir
            ).run()
        except (MRDError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise MRDError(
                f"the session stopped by an unexpected error ({type(exc).__name__}: {exc}); every finished trial "
                f"is saved in {prep.files.trials_csv} and the sidecar records the error. To continue: mrd "
                f"experiment --stimuli {args.stimuli} --participant {participant} --session {session} "
                f"--data-dir {args.data_dir} --resume"
            ) from exc
    finally:
        prep.store.close()
    total = len(prep.trials)
    rows = prep.sidecar.get("n_trials_done")
    print(
        f"{prep.files.trials_csv}: planned trials {start + 1}..{n_done} of {total} done in this run ({reason}); "
        f"{rows} rows on disk (practice rounds after a passed criterion are skipped)"
        if rows != n_done
        else f"{prep.files.trials_csv}: planned trials {start + 1}..{n_done} of {total} done in this run ({reason})"
    )
    if n_done < total:
        print(
            f"to continue: mrd experiment --stimuli {args.stimuli} --participant {participant} "
            f"--session {session} --data-dir {args.data_dir} --resume"
        )
    return 143 if reason == "SIGTERM" else 0


def _simulate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from psychophysics.datafile import check_folder
    from psychophysics.simulate import simulate_participants, summary

    check_folder(Path(args.data_dir), "--data-dir")
    paths = simulate_participants(
        args.stimuli,
        args.observers,
        args.observer,
        args.data_dir,
        seed=args.seed,
        config_path=args.config,
        session=args.session,
    )
    s = summary(paths)
    print(
        f"{s['participants']} simulated participants ({args.observer}) in {args.data_dir}: "
        f"{s['main_trials']} main trials, proportion correct {s['proportion_correct']:.3f}"
    )
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``experiment`` and ``simulate`` to the ``mrd`` command line."""
    p = subparsers.add_parser(
        "experiment",
        help="run the oddity experiment (PsychoPy) on a stimulus set",
        description="Run an oddity session. Data go to DATA_DIR/sub-<ID>_ses-<N>_{trials.csv,session.json,"
        "plan.json}, one row per trial, written as each trial ends. Escape ends safely.",
    )
    p.add_argument("--stimuli", required=True, metavar="SET.h5", help="the stimulus set")
    p.add_argument("--participant", metavar="ID", help="participant id: 1-32 of A-Z a-z 0-9 _ -")
    p.add_argument("--session", type=int, default=1, metavar="N", help="session number >= 1 (default 1)")
    p.add_argument("--config", metavar="EXP.toml", help="experiment config (default: the shipped default)")
    p.add_argument("--data-dir", default="data", metavar="DIR", help="data folder (default ./data)")
    p.add_argument(
        "--fullscreen", action="store_true", help="full screen (the default for participants; with --simulate too)"
    )
    p.add_argument(
        "--windowed", action="store_true", help="a window of monitor.window_size (development; default with --simulate)"
    )
    p.add_argument("--gui", action="store_true", help="ask participant and session in a dialog (needs Qt)")
    p.add_argument(
        "--simulate",
        choices=OBSERVER_NAMES,
        metavar="NAME",
        help=f"a simulated observer answers through key events: {', '.join(OBSERVER_NAMES)}",
    )
    p.add_argument(
        "--resume", action="store_true", help="continue this participant's session where it stopped"
    )
    p.add_argument(
        "--screenshot-dir",
        metavar="DIR",
        help="save each trial's first stimulus frame as PNG (costs one frame per trial)",
    )
    p.set_defaults(func=_experiment)

    s = subparsers.add_parser(
        "simulate",
        help="simulated participants without a window (same design and data files)",
        description="Run N simulated participants sim01.. through the experiment design and write their "
        "session files, without opening a window.",
    )
    s.add_argument("stimuli", metavar="SET.h5", help="the stimulus set")
    s.add_argument("--observers", type=int, default=1, metavar="N", help="number of participants (default 1)")
    s.add_argument(
        "--observer",
        required=True,
        choices=OBSERVER_NAMES,
        metavar="NAME",
        help=f"observer: {', '.join(OBSERVER_NAMES)}",
    )
    s.add_argument("--data-dir", default="data", metavar="DIR", help="data folder (default ./data)")
    s.add_argument("--seed", type=int, default=0, help="seed of the observers' random draws")
    s.add_argument("--config", metavar="EXP.toml", help="experiment config (design, observer parameters)")
    s.add_argument("--session", type=int, default=1, metavar="N", help="session number (default 1)")
    s.set_defaults(func=_simulate)


def main(argv: list[str] | None = None) -> int:
    """Run these two subcommands on their own (as ``mrd`` does): MRDError -> message, exit 2.

    Examples
    --------
    >>> main(["simulate", "/nonexistent.h5", "--observer", "oracle"])
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
