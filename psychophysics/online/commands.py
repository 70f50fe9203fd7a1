"""``mrd export-online``, ``serve-online``, ``simulate-online``, ``import-online`` (work imported in the handlers).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="mrd")
>>> add_commands(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["export-online", "set.h5", "--out", "web", "--participants", "3"])
>>> args.participants, args.calibration, args.endpoint
('3', 'chinrest', 'api')
"""

from __future__ import annotations

import argparse
import sys


def _export(args: argparse.Namespace) -> int:
    from psychophysics.online.bundle import export_bundle, parse_participants
    from stimuli.errors import MRDError

    try:
        sessions = tuple(int(s) for s in args.sessions.split(","))
    except ValueError:
        raise MRDError(f"--sessions {args.sessions!r}: give session numbers such as 1 or 1,2") from None
    endpoint = None if args.endpoint == "none" else args.endpoint
    m = export_bundle(args.stimuli, args.out, parse_participants(args.participants), args.config, sessions,
                      endpoint, args.calibration, args.blindspot_reps)
    n = sum(len(s) for s in m["participants"].values())
    print(f"{args.out}: bundle with {n} planned sessions, {m['n_images']} images, stimulus digest "
          f"{m['stimulus_digest'][:16]}...")
    print(f"pilot it: mrd serve-online {args.out} --data-dir DATA  (then open the printed links)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from psychophysics.online.server import CollectionServer

    server = CollectionServer(args.bundle, args.data_dir, args.host, args.port, verbose=args.verbose)
    urls = server.participant_urls()
    print(f"serving {args.bundle} at {server.url}, data into {args.data_dir} (Ctrl+C stops)", flush=True)
    for u in urls[: args.show_links]:
        print(f"  {u}")
    if len(urls) > args.show_links:
        print(f"  ... {len(urls) - args.show_links} more (participant=ID&session=N)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _import(args: argparse.Namespace) -> int:
    from psychophysics.online.importer import import_files

    done = import_files(args.files, args.bundle, args.data_dir, stimuli_path=args.stimuli)
    for (pid, ses), (added, total, complete) in sorted(done.items()):
        state = "complete" if complete else "incomplete"
        print(f"sub-{pid}_ses-{ses}: {added} trials added, {total} on disk ({state})")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from psychophysics.online.bundle import parse_participants
    from psychophysics.online.simulate import simulate_online

    res = simulate_online(args.bundle, args.data_dir, args.observer, parse_participants(args.participants),
                          args.stimuli, args.seed, args.session)
    for r in res:
        print(f"{r['participant']}: {r['trials']} trials answered in the browser, proportion correct "
              f"{r['proportion_correct']:.3f}")
    print(f"data in {args.data_dir}")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add the three online commands to the ``mrd`` command line."""
    e = subparsers.add_parser(
        "export-online", help="write the oddity experiment as a static jsPsych bundle (no CDN at run time)",
        description="Write a self-contained folder with the task (jsPsych), the plans of the given participants "
        "(the lab's plans: same seed, same trials), the images as PNG and a manifest.")
    e.add_argument("stimuli", metavar="SET.h5", help="the stimulus set")
    e.add_argument("--out", required=True, metavar="DIR", help="the bundle folder (new or empty)")
    e.add_argument("--config", metavar="EXP.toml", help="experiment config (default: the shipped default)")
    e.add_argument("--participants", default="20", metavar="IDS|N",
                   help="participant ids (comma list) or a number N of ids web001.. (default 20)")
    e.add_argument("--sessions", default="1", metavar="N[,N]", help="session numbers to plan (default 1)")
    e.add_argument("--endpoint", default="api", metavar="URL",
                   help="collection endpoint: 'api' (mrd serve-online), an absolute URL, 'jatos' (JATOS result data), "
                   "or 'none' (download only)")
    e.add_argument("--calibration", choices=("chinrest", "card"), default="chinrest",
                   help="chinrest: credit card + blind spot (viewing distance measured); card: credit card, "
                   "distance from the config's monitor.distance_cm")
    e.add_argument("--blindspot-reps", type=int, default=5, metavar="N", help="blind-spot measurements (default 5)")
    e.set_defaults(func=_export)

    s = subparsers.add_parser(
        "serve-online", help="serve a bundle and collect its data into the session-data contract",
        description="A small collection server for pilots and lab networks: serves DIR, appends and fsyncs "
        "every trial into DATA_DIR, resumes reloaded sessions, refuses bad requests with 4xx.")
    s.add_argument("bundle", metavar="DIR", help="the bundle folder (from mrd export-online)")
    s.add_argument("--data-dir", required=True, metavar="DATA", help="data folder (outside the bundle)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 = all)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free port)")
    s.add_argument("--verbose", action="store_true", help="log every request")
    s.add_argument("--show-links", type=int, default=5, metavar="N", help="participant links to print (default 5)")
    s.set_defaults(func=_serve)

    m = subparsers.add_parser(
        "simulate-online", help="simulated participants take a bundle's task in headless Chromium",
        description="Serve DIR in-process and let simulated observers take the task in the system's headless "
        "Chromium through real key events; data go to DATA as from real participants.")
    m.add_argument("bundle", metavar="DIR", help="the bundle folder")
    m.add_argument("--data-dir", required=True, metavar="DATA", help="data folder")
    m.add_argument("--observer", required=True, choices=("oracle", "chance", "model", "psychometric"),
                   help="the simulated observer")
    m.add_argument("--participants", required=True, metavar="IDS", help="planned ids (comma list)")
    m.add_argument("--stimuli", metavar="SET.h5", help="the stimulus set (default: the path in the manifest)")
    m.add_argument("--seed", type=int, default=0, help="seed of the observers' draws")
    m.add_argument("--session", type=int, default=1, help="session number (default 1)")
    m.set_defaults(func=_simulate)

    i = subparsers.add_parser(
        "import-online", help="convert jsPsych data files from other hosts into session data",
        description="Read jsPsych data (JSON array, JSON lines as JATOS stores them, or CSV as Pavlovia "
        "saves them) of a bundle's task, check each trial against the bundle's plan and the stimulus digest, "
        "and append the trials missing from DATA's session files.")
    i.add_argument("files", nargs="+", metavar="FILE", help="data files")
    i.add_argument("--bundle", required=True, metavar="DIR", help="the bundle the data were collected with")
    i.add_argument("--data-dir", required=True, metavar="DATA", help="data folder")
    i.add_argument("--stimuli", metavar="SET.h5", help="check the bundle's digest against this stimulus set too")
    i.set_defaults(func=_import)
