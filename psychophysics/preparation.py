"""Everything a session needs before the first trial (no PsychoPy): checks, plan, files.

Shared by the PsychoPy session (:mod:`psychophysics.session`) and the window-less simulation
(:mod:`psychophysics.simulate`), so both refuse the same inputs and write the same files.

Examples
--------
>>> prepare("/nonexistent.h5", "P01", 1, None, "/tmp/data")
Traceback (most recent call last):
...
stimuli.errors.MRDError: stimulus set /nonexistent.h5 failed validation:
  /nonexistent.h5: no such file
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psychophysics.config import ExperimentConfig, Keys, config_difference, load_config
from psychophysics.datafile import SessionFiles, check_participant, new_sidecar, utc_now
from psychophysics.design import (
    Item,
    Trial,
    build_plan,
    items_from_store,
    key_order,
    scene_render_seeds,
    selection,
    session_seed,
)
from stimuli.errors import MRDError


@dataclass
class Prepared:
    """A session ready to run.

    Attributes
    ----------
    files : SessionFiles
        The session's files (plan and sidecar written, CSV header present).
    store : stimuli.StimulusSet
        The open stimulus set (close it when done).
    config : ExperimentConfig
        The config in force (on resume: the saved one).
    trials : list of Trial
        The whole planned sequence.
    n_done : int
        Trials already done; the session continues at ``trials[n_done]``.
    rows : list of dict
        Rows already written (on resume).
    sidecar : dict
        The sidecar as it stands.
    seed : int
        The plan's seed.
    """

    files: SessionFiles
    store: Any
    config: ExperimentConfig
    trials: list[Trial]
    n_done: int
    sidecar: dict[str, Any]
    seed: int
    rows: list[dict[str, str]] = field(default_factory=list)
    key_order: list[int] = field(default_factory=lambda: [1, 2, 3])
    notes: list[str] = field(default_factory=list)

    @property
    def keys(self) -> Keys:
        """The key mapping in force for this participant (the config's, permuted if counterbalanced)."""
        return self.config.keys.permuted(self.key_order)


def check_store(path: str | Path) -> None:
    """Refuse a stimulus set that fails :func:`stimuli.validate_store`, listing the problems."""
    from stimuli import validate_store

    problems = validate_store(path)
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise MRDError(f"stimulus set {path} failed validation:\n{shown}{more}")


def versions(psychopy: bool) -> dict[str, str]:
    """Software versions for the sidecar."""
    from importlib import metadata

    from stimuli.version import suite_version

    out = {"suite": suite_version(), "python": platform.python_version(), "platform": platform.platform()}
    for dist in ("numpy", "h5py", "pydantic", *(["psychopy", "pyglet"] if psychopy else [])):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def prepare(
    stimuli_path: str | Path,
    participant: str,
    session: int,
    config_path: str | Path | None,
    data_dir: str | Path,
    resume: bool = False,
    observer: str | None = None,
    observer_params: dict[str, Any] | None = None,
    uses_psychopy: bool = True,
    validate: bool = True,
    before_start: Callable[[], None] | None = None,
    items: tuple[list[Item], dict[str, int]] | None = None,
    require_renders: bool = True,
) -> Prepared:
    """Check inputs and start (or resume) a session's files.

    Parameters
    ----------
    stimuli_path : str or Path
        The stimulus set (validated with :func:`stimuli.validate_store`).
    participant : str
        Participant id, ``[A-Za-z0-9_-]{1,32}``.
    session : int
        Session number >= 1.
    config_path : str, Path or None
        Experiment config; ``None`` = the shipped default (on resume: the saved config).
    data_dir : str or Path
        Data folder.
    resume : bool
        Continue an existing session instead of starting one.
    observer : str, optional
        Simulated observer name recorded in the sidecar.
    observer_params : dict, optional
        Its parameters.
    uses_psychopy : bool
        Whether the PsychoPy version belongs in the sidecar.
    validate : bool
        Run :func:`check_store` (callers that already did may skip it).
    before_start : callable, optional
        Called after every check and before any session file is written (e.g. a display check).
    items : tuple, optional
        :func:`~psychophysics.design.items_from_store` of this store, if the caller has it already.
    require_renders : bool
        Refuse a store without independent renders (schema 1.0); the window-less simulation, which
        shows no images, passes ``False``.

    Returns
    -------
    Prepared

    Raises
    ------
    MRDError
        Bad participant id or session, invalid store, existing data without ``resume``, nothing to
        resume, a finished session, or a store or config that differs from the saved session's.
    """
    from stimuli import StimulusSet

    check_participant(participant, session)
    files = SessionFiles(data_dir, participant, session)
    if not resume:
        files.ensure_new()
    config = load_config(config_path) if (config_path is not None or not resume) else None
    if validate:
        check_store(stimuli_path)
    store = StimulusSet(stimuli_path)
    try:
        if resume:
            prep = _resume(files, store, config_path, config)
            if before_start is not None:
                before_start()
            return prep
        assert config is not None
        seed = session_seed(config.design.seed, participant, session)
        all_items, scene_views = items if items is not None else items_from_store(store, config.design.stimuli)
        if require_renders and not any(it.scene_render_seeds for it in all_items):
            raise MRDError(
                f"{stimuli_path}: this stimulus set (schema {store.schema_version}) has no independent display "
                "renders: every view has only the one image, so the two 'identical' images of a trial would be "
                "the same render and the odd one a render with other Monte Carlo noise. Regenerate it with this "
                "suite (`mrd generate CONFIG.toml NEW.h5`, schema 1.1 stores `renders`); `mrd simulate` still "
                "runs on it"
            )
        trials = build_plan(all_items, scene_views, config.design, participant, session, scene_render_seeds(store))
        if require_renders:
            lacking = sorted({t.metamer_id for t in trials if None in t.renders})
            if lacking:
                raise MRDError(
                    f"{stimuli_path}: {', '.join(lacking[:5])} ha{'ve' if len(lacking) > 1 else 's'} no independent "
                    "renders of both the target and the metamer; regenerate the set (schema 1.1 `renders`)"
                )
        _, counts = selection(all_items, config.design)
        notes = []
        if counts["unsuccessful"]:
            notes.append(
                f"design.only_successful: {counts['unsuccessful']} of {counts['in_store']} metamers left out "
                "(success flag not set: not metamers of their model)"
            )
        order = key_order(participant, session, config.design.seed, config.keys.counterbalance)
        plan = {
            "participant": participant,
            "session": session,
            "seed": seed,
            "stimulus_digest": store.digest,
            "n_trials": len(trials),
            "key_order": order,
            "selection": counts,
            "trials": [t.to_dict() for t in trials],
        }
        sidecar = new_sidecar(
            files,
            stimuli_path,
            store.digest,
            config.to_dict(),
            versions(uses_psychopy),
            config.monitor.model_dump(mode="json"),
            len(trials),
            observer,
            observer_params,
        )
        sidecar.update(selection=counts, key_order=order)
        if before_start is not None:
            before_start()
        files.create(plan, sidecar)
        return Prepared(files, store, config, trials, 0, sidecar, seed, key_order=order, notes=notes)
    except BaseException:
        store.close()
        raise


def _resume(
    files: SessionFiles, store: Any, config_path: str | Path | None, given: ExperimentConfig | None
) -> Prepared:
    plan, trials, n_done = files.resume()
    sidecar = files.read_sidecar()
    if plan.get("stimulus_digest") != store.digest:
        raise MRDError(
            f"cannot resume: {files.plan_json} was planned on stimulus digest "
            f"{plan.get('stimulus_digest')}, but {store.path} has digest {store.digest}"
        )
    saved = sidecar.get("experiment_config")
    if not isinstance(saved, dict):
        raise MRDError(f"{files.sidecar_json}: field 'experiment_config' is missing; cannot resume")
    config = ExperimentConfig.from_dict(saved, source=f"{files.sidecar_json} (experiment_config)")
    if given is not None and given.to_dict() != config.to_dict():
        where = config_difference(given.to_dict(), config.to_dict())
        raise MRDError(
            f"cannot resume with --config {config_path}: field '{where}' differs from the config saved in "
            f"{files.sidecar_json}; leave out --config to resume with the saved one"
        )
    if n_done >= len(trials):
        raise MRDError(
            f"nothing to resume: participant '{files.participant}' session {files.session} "
            f"already has all {len(trials)} trials in {files.trials_csv}"
        )
    rows = files.read_rows()
    sidecar["n_trials_done"] = len(rows)
    order = [int(k) for k in plan.get("key_order", [1, 2, 3])]
    return Prepared(files, store, config, trials, n_done, sidecar, int(plan["seed"]), rows, key_order=order)


def start_run(prep: Prepared, frame_rate_hz: float | None, extra: dict[str, Any] | None = None) -> None:
    """Record the start of a run (a new session or a resume) in the sidecar."""
    run = {
        "started": utc_now(),
        "ended": None,
        "first_trial": prep.n_done + 1,
        "frame_rate_hz": frame_rate_hz,
        **(extra or {}),
    }
    prep.sidecar["runs"].append(run)
    prep.sidecar["frame_rate_hz"] = frame_rate_hz
    prep.files.write_sidecar(prep.sidecar)


def end_run(prep: Prepared, n_done: int, reason: str, n_rows: int | None = None, **extra: Any) -> None:
    """Record the end of a run: times, rows on disk, completed flag, and why it ended.

    ``n_done`` is the index in the plan reached (all planned trials run or skipped = complete);
    ``n_rows`` the rows on disk (default ``n_done``); ``extra`` goes into the run's entry.
    """
    now = utc_now()
    rows = n_done if n_rows is None else n_rows
    complete = n_done >= len(prep.trials) and reason == "completed"
    prep.sidecar.update(ended=now, n_trials_done=rows, completed=complete)
    if prep.sidecar["runs"]:
        prep.sidecar["runs"][-1].update(ended=now, last_trial=n_done, rows_on_disk=rows, end_reason=reason, **extra)
    prep.files.write_sidecar(prep.sidecar)
