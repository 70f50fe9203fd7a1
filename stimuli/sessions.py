"""The session-data contract shared by the experiment (writer) and the analysis (reader).

Files in a data folder, per participant ``P`` and session ``S``: ``sub-P_ses-S_trials.csv`` (one row per
trial, columns :data:`TRIAL_COLUMNS` in this order), ``sub-P_ses-S_session.json`` (the sidecar, keys
:data:`SIDECAR_KEYS` at least) and ``sub-P_ses-S_plan.json`` (the planned trial sequence). The full
reference is ``docs/session-data.md``. It lives in :mod:`stimuli` because both ``psychophysics`` and
``analysis`` depend on it and on nothing else of each other.

Examples
--------
>>> session_stem("P01", 2)
'sub-P01_ses-2'
>>> TRIAL_COLUMNS[:3]
('participant', 'session', 'block')
>>> set(PLANNED_COLUMNS) <= set(TRIAL_COLUMNS)
True
"""

from __future__ import annotations

SESSION_DATA_VERSION = "1.1"
"""Version of this contract, recorded in every sidecar (1.0 files lack the columns after ``timestamp``)."""

PLANNED_COLUMNS: tuple[str, ...] = (
    "block",
    "block_type",
    "trial",
    "trial_in_block",
    "metamer_id",
    "scene_id",
    "model_id",
    "group",
    "view",
    "odd_item",
    "odd_position",
    "is_catch",
    "trial_type",
    "render_1",
    "render_2",
    "render_3",
    "practice_round",
)
"""Columns that come from the plan (``_plan.json`` ``trials`` entries have exactly these keys)."""

TRIAL_TYPES: tuple[str, ...] = ("metamer", "noise_floor", "catch")
"""Values of the ``trial_type`` column."""

TRIAL_COLUMNS: tuple[str, ...] = (
    "participant",
    "session",
    "block",
    "block_type",
    "trial",
    "trial_in_block",
    "metamer_id",
    "scene_id",
    "model_id",
    "group",
    "view",
    "odd_item",
    "odd_position",
    "response_key",
    "response_position",
    "correct",
    "rt",
    "is_catch",
    "frame_interval_mean_ms",
    "frame_interval_sd_ms",
    "dropped_frames",
    "timestamp",
    # schema of the session data 1.1: independent renders, trial types, measured stimulus duration
    "trial_type",
    "render_1",
    "render_2",
    "render_3",
    "practice_round",
    "stimulus_frames",
    "stimulus_frames_measured",
    "stimulus_ms_measured",
)
"""Columns of a session's trials CSV, in order."""

SIDECAR_KEYS: tuple[str, ...] = (
    "participant",
    "session",
    "stimulus_set",
    "stimulus_digest",
    "experiment_config",
    "versions",
    "monitor",
    "frame_rate_hz",
    "started",
    "ended",
    "completed",
    "n_trials_planned",
    "n_trials_done",
    "observer",
    "observer_params",
    "session_data_version",
)
"""Keys every session sidecar has."""


def session_stem(participant: str, session: int) -> str:
    """Common stem of a session's three files."""
    return f"sub-{participant}_ses-{session}"
