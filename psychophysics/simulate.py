"""Simulated participants without a window: same design, same checks, same data files.

``mrd simulate SET.h5 --observers N --observer NAME`` runs participants ``sim01``, ``sim02``, ...
(session 1) through :func:`psychophysics.preparation.prepare` and the data writer of
:mod:`psychophysics.datafile`, answering each planned trial with a simulated observer
(:mod:`psychophysics.observers`). There is no display, so the frame columns are empty,
``frame_rate_hz`` is null and ``rt`` is synthetic: a log-normal draw (median 0.6 s, log-sd 0.3)
from stimulus onset, capped at the end of the response window. The observer's own random stream
is seeded from ``--seed`` and the participant's index.

Examples
--------
>>> participant_ids(3)
['sim01', 'sim02', 'sim03']
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from psychophysics.config import load_config
from psychophysics.datafile import SessionFiles, trial_row
from psychophysics.design import items_from_store, skip_trial
from psychophysics.observers import make_observer
from psychophysics.preparation import check_store, end_run, prepare, start_run
from stimuli.errors import MRDError

RT_MEDIAN_S = 0.6
RT_LOG_SD = 0.3


def participant_ids(n: int, prefix: str = "sim") -> list[str]:
    """Ids ``sim01`` .. (at least two digits, more when ``n`` needs them)."""
    width = max(2, len(str(n)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, n + 1)]


def simulate_participants(
    stimuli_path: str | Path,
    n: int,
    observer: str,
    data_dir: str | Path,
    seed: int = 0,
    config_path: str | Path | None = None,
    session: int = 1,
    progress: bool = True,
) -> list[Path]:
    """Run ``n`` simulated participants and write their session files.

    Parameters
    ----------
    stimuli_path : str or Path
        The stimulus set (validated once).
    n : int
        Number of participants (``sim01`` ..).
    observer : str
        ``oracle``, ``chance``, ``model`` or ``psychometric``.
    data_dir : str or Path
        Data folder.
    seed : int
        Seed of the observers' random draws.
    config_path : str, Path or None
        Experiment config (design and observer parameters); ``None`` = the default.
    session : int
        Session number for all participants.
    progress : bool
        Show a progress bar.

    Returns
    -------
    list of Path
        The trial CSV files written.

    Raises
    ------
    MRDError
        As :func:`~psychophysics.preparation.prepare` (e.g. existing data), or a bad observer.

    Examples
    --------
    >>> simulate_participants("/nonexistent.h5", 1, "oracle", "/tmp/d")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: stimulus set /nonexistent.h5 failed validation:
      /nonexistent.h5: no such file
    """
    from tqdm import tqdm

    from stimuli import StimulusSet

    if n < 1:
        raise MRDError(f"--observers {n}: give at least 1 simulated participant")
    check_store(stimuli_path)
    config = load_config(config_path)
    ids = participant_ids(n)
    existing = [
        str(f.trials_csv.name) for f in (SessionFiles(data_dir, p, session) for p in ids) if f.exists()
    ]
    if existing:
        raise MRDError(
            f"simulated participants' data already exist in {data_dir} ({', '.join(existing[:3])}"
            f"{', ...' if len(existing) > 3 else ''}); use another --data-dir or --session"
        )
    with StimulusSet(stimuli_path) as store:
        obs = make_observer(observer, config, store)
        items = items_from_store(store, config.design.stimuli)
    out = []
    window_s = (config.presentation.stimulus_ms + config.presentation.response_window_ms) / 1000.0
    for index, pid in enumerate(
        tqdm(ids, desc=f"simulate {observer}", unit="participant", disable=not progress)
    ):
        prep = prepare(
            stimuli_path,
            pid,
            session,
            config_path,
            data_dir,
            observer=obs.name,
            observer_params=obs.params,
            uses_psychopy=False,
            validate=False,
            items=items,
            require_renders=False,
        )
        prep.files.fsync_each_row = False  # one fsync per participant (at close)
        rng = np.random.default_rng([seed, index])
        try:
            if index == 0:
                for note in prep.notes:
                    print(note)
            start_run(prep, None, {"mode": "simulated without a window", "observer_seed": [seed, index]})
            keys, done = prep.keys, []
            for trial in prep.trials:
                if skip_trial(trial, done, config.design.practice_criterion):
                    continue
                choice = obs.choose(trial, rng)
                key = keys.key_for(choice) if choice is not None else None
                rt = min(float(rng.lognormal(math.log(RT_MEDIAN_S), RT_LOG_SD)), window_s) if key else None
                row = trial_row(pid, session, trial, key, choice, rt)
                prep.files.append(row)
                done.append(row)
            prep.files.close()
            end_run(prep, len(prep.trials), "completed", n_rows=len(done))
        finally:
            prep.files.close()
            prep.store.close()
        out.append(prep.files.trials_csv)
    return out


def summary(paths: list[Path]) -> dict[str, Any]:
    """Proportion correct over the main metamer trials (no catch, no noise-floor) of the given CSV files."""
    import csv

    n = k = 0
    for p in paths:
        with open(p, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                if row["block_type"] == "main" and row["is_catch"] == "0" and row.get("trial_type", "metamer") in ("metamer", ""):
                    n += 1
                    k += int(row["correct"])
    return {"participants": len(paths), "main_trials": n, "proportion_correct": k / n if n else float("nan")}
