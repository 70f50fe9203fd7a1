"""``mrd simulate-online``: simulated participants take the online task in a headless Chromium.

The counterpart of ``mrd experiment --simulate`` for the browser: the bundle is served by an
in-process :class:`~psychophysics.online.server.CollectionServer` (or any running collection server
given by ``url``), and each participant's page is driven by
:class:`~psychophysics.online.participant.SimulatedParticipant` with one of the observers of
:mod:`psychophysics.observers` (seeded per trial with :class:`TrialSeededObserver`), answering through
real key events. The data land in ``data_dir`` like a real participant's.

Examples
--------
>>> simulate_online("/nonexistent", "/tmp/d", "oracle", ["P01"])
Traceback (most recent call last):
...
stimuli.errors.MRDError: /nonexistent/data/manifest.js: missing; is this a bundle written by `mrd export-online`?
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stimuli.errors import MRDError


def simulate_online(bundle: str | Path, data_dir: str | Path, observer: str, participants: list[str],
                    stimuli_path: str | Path | None = None, seed: int = 0, session: int = 1,
                    progress: bool = True, timeout: float = 600.0) -> list[dict[str, Any]]:
    """Run simulated participants through the bundle in headless Chromium.

    Parameters
    ----------
    bundle : str or Path
        The bundle folder.
    data_dir : str or Path
        The data folder of the in-process collection server.
    observer : str
        ``oracle``, ``chance``, ``model`` or ``psychometric``.
    participants : list of str
        Planned participant ids to run.
    stimuli_path : str or Path, optional
        The stimulus set (``model`` and ``psychometric`` read its similarities; default: the path the
        manifest records). Its digest must be the bundle's.
    seed : int
        Seed of the observers' draws (participant ``i`` uses ``seed * 1000 + i``, per trial).
    session : int
        Session number.
    progress : bool
        Show a progress bar.
    timeout : float
        Seconds allowed per participant.

    Returns
    -------
    list of dict
        Per participant: id, trials answered, proportion correct of the answers, final page stage.

    Raises
    ------
    MRDError
        Unknown ids, a foreign stimulus set, no Chromium, a page that stops or times out.
    """
    import numpy as np
    from tqdm import tqdm

    from psychophysics.config import ExperimentConfig
    from psychophysics.observers import make_observer
    from psychophysics.online.bundle import plan_path, read_data_file, read_manifest
    from psychophysics.online.cdp import Browser
    from psychophysics.online.participant import SimulatedParticipant, TrialSeededObserver
    from psychophysics.online.server import CollectionServer
    from stimuli import StimulusSet

    manifest = read_manifest(bundle)
    unknown = [p for p in participants if str(session) not in manifest["participants"].get(p, {})]
    if unknown:
        raise MRDError(f"{bundle}: no plan for session {session} of {unknown[:5]}; planned: "
                       f"{sorted(manifest['participants'])[:10]}")
    config = ExperimentConfig.from_dict(manifest["experiment_config"], source=f"{bundle}/data/manifest.js")
    store_path = Path(stimuli_path or manifest["stimulus_set"])
    with StimulusSet(store_path) as store:
        if store.digest != manifest["stimulus_digest"]:
            raise MRDError(f"{store_path}: stimulus digest differs from the bundle's; give the set it was exported from")
        inner = make_observer(observer, config, store)
    server = CollectionServer(bundle, data_dir, port=0)
    server.start_background()
    out = []
    try:
        with Browser() as browser:
            for index, pid in enumerate(tqdm(participants, desc=f"simulate-online {observer}", unit="participant",
                                             disable=not progress), start=1):
                plan = read_data_file(plan_path(bundle, pid, session))
                keys = {"positions": [plan["keys"][f"position_{i}"] for i in (1, 2, 3)],
                        "proceed": list(config.keys.proceed)}
                obs = TrialSeededObserver(inner, seed * 1000 + index)
                browser.goto(f"{server.url}index.html?participant={pid}&session={session}")
                sp = SimulatedParticipant(browser, obs, keys, np.random.default_rng(0))
                final = sp.run(timeout=timeout)
                answered = [a for a in sp.answers if a.position is not None]
                by_trial = {t["trial"]: t for t in plan["trials"]}
                correct = sum(a.position == by_trial[a.trial]["odd_position"] for a in answered)
                out.append({"participant": pid, "trials": len(sp.answers), "stage": final["stage"],
                            "proportion_correct": correct / len(answered) if answered else float("nan")})
    finally:
        server.shutdown()
        server.server_close()
    return out
