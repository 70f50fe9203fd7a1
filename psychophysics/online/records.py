"""What a browser may send, checked field by field against the plan (no I/O).

Every message is a JSON object. A *trial* message is one row of the trials CSV: its planned
columns (:data:`stimuli.sessions.PLANNED_COLUMNS`) must equal the plan's, its response columns are
checked for type and range, ``correct`` is recomputed from the plan, and nothing else is allowed
except ``stimulus_digest``, ``run_id`` and the marker ``mrd``. The columns come from
:mod:`stimuli.sessions` at call time, so columns added to the contract flow through: a new planned
column is taken from the plan; a new response column is accepted as a bounded scalar.

Examples
--------
>>> check_id("P01"), check_session(2)
('P01', 2)
>>> check_id("../etc")
Traceback (most recent call last):
...
psychophysics.online.records.BadRequest: participant: '../etc' is not an id (1-32 of A-Z a-z 0-9 _ -)
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from stimuli.errors import MRDError

ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
RUN_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
EXTRA_TRIAL_FIELDS = ("stimulus_digest", "run_id", "mrd")
MAX_TEXT = 200


class BadRequest(MRDError):
    """A message that breaks the rules: answered 4xx (``status``), nothing written."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def columns() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(TRIAL_COLUMNS, PLANNED_COLUMNS)`` of the session-data contract as it stands."""
    from stimuli import sessions

    planned = getattr(sessions, "PLANNED_COLUMNS", None)
    if planned is None:
        from dataclasses import fields

        from psychophysics.design import Trial

        planned = tuple(f.name for f in fields(Trial))
    return tuple(sessions.TRIAL_COLUMNS), tuple(planned)


def check_id(value: Any, field: str = "participant") -> str:
    """A participant id (``[A-Za-z0-9_-]{1,32}``)."""
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise BadRequest(f"{field}: {_show(value)} is not an id (1-32 of A-Z a-z 0-9 _ -)")
    return value


def check_session(value: Any) -> int:
    """A session number (integer 1..999)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 999:
        raise BadRequest(f"session: {_show(value)} is not a session number (integer 1..999)")
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def number(body: dict[str, Any], field: str, lo: float, hi: float, integer: bool = False,
           required: bool = False) -> float | int | None:
    """A finite number in ``[lo, hi]`` (``None`` allowed unless ``required``; booleans refused).

    Examples
    --------
    >>> number({"rt": 0.4}, "rt", 0, 10), number({}, "rt", 0, 10)
    (0.4, None)
    >>> number({"rt": True}, "rt", 0, 10)
    Traceback (most recent call last):
    ...
    psychophysics.online.records.BadRequest: rt: True is not a number
    """
    v = body.get(field)
    if v is None:
        if required:
            raise BadRequest(f"{field}: missing")
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or (integer and not isinstance(v, int)):
        raise BadRequest(f"{field}: {_show(v)} is not {'an integer' if integer else 'a number'}")
    if not math.isfinite(v) or not lo <= v <= hi:
        raise BadRequest(f"{field}: {_show(v)} is outside {lo}..{hi}")
    return v


def text(body: dict[str, Any], field: str, max_len: int = MAX_TEXT, required: bool = False) -> str | None:
    """A string of at most ``max_len`` printable characters."""
    v = body.get(field)
    if v is None:
        if required:
            raise BadRequest(f"{field}: missing")
        return None
    if not isinstance(v, str) or len(v) > max_len or not v.isprintable():
        raise BadRequest(f"{field}: {_show(v)} is not a printable text of at most {max_len} characters")
    return v


def timestamp(body: dict[str, Any], field: str = "timestamp") -> str:
    """An ISO 8601 time."""
    v = text(body, field, 40, required=True)
    try:
        datetime.fromisoformat(v)  # type: ignore[arg-type]
    except ValueError:
        raise BadRequest(f"{field}: {_show(v)} is not an ISO 8601 time") from None
    return v  # type: ignore[return-value]


def scalar(body: dict[str, Any], field: str) -> Any:
    """A column this module has no rule for: ``None``, a finite number, or a short text."""
    v = body.get(field)
    if v is None or isinstance(v, str):
        return text(body, field)
    if isinstance(v, bool):
        return int(v)
    return number(body, field, -1e12, 1e12)


def _same(planned: Any, sent: Any) -> bool:
    if isinstance(planned, bool) or isinstance(sent, bool):
        return planned == sent and type(planned) is type(sent)
    return planned == sent or (planned in (None, "") and sent in (None, ""))


def trial_row(body: dict[str, Any], planned: dict[str, Any], participant: str, session: int,
              position_keys: list[list[str]], digest: str, lenient: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check a trial message against its planned trial and build the CSV row.

    Parameters
    ----------
    body : dict
        The message.
    planned : dict
        The plan's entry for ``body["trial"]``.
    participant, session
        The session's (the message must name the same).
    position_keys : list of list of str
        PsychoPy key names answering positions 1, 2, 3 for this participant.
    digest : str
        The stimulus digest the message must carry (when it carries one).
    lenient : tuple of str
        Planned columns whose sent value may differ (jsPsych's own ``trial_type`` in its data files).

    Returns
    -------
    dict
        Every column of :data:`stimuli.sessions.TRIAL_COLUMNS`.

    Raises
    ------
    BadRequest
        Naming the field and value.
    """
    all_cols, plan_cols = columns()
    unknown = sorted(set(body) - set(all_cols) - set(EXTRA_TRIAL_FIELDS))
    if unknown:
        raise BadRequest(f"unknown field(s) {unknown[:5]}; a trial has {list(all_cols)}")
    if check_id(body.get("participant")) != participant or check_session(body.get("session")) != session:
        raise BadRequest("participant/session differ from the session the trial was sent for")
    if body.get("stimulus_digest") not in (None, digest):
        raise BadRequest(f"stimulus_digest: {_show(body.get('stimulus_digest'))} is not this study's {digest[:16]}...",
                         409)
    text(body, "run_id", 64)
    row: dict[str, Any] = {"participant": participant, "session": session}
    for c in plan_cols:
        if c in body and c not in lenient and not _same(planned.get(c), body[c]):
            raise BadRequest(f"{c}: {_show(body[c])} differs from the plan's {_show(planned.get(c))} "
                             f"for trial {planned.get('trial')}", 409)
        row[c] = planned.get(c)
    key = body.get("response_key")
    if key is None:
        key = ""
    if not isinstance(key, str):
        raise BadRequest(f"response_key: {_show(key)} is not a key name")
    pos = number(body, "response_position", 1, 3, integer=True)
    rt = number(body, "rt", 0.0, 3600.0)
    if key:
        expected = next((i + 1 for i, keys in enumerate(position_keys) if key in keys), None)
        if expected is None:
            raise BadRequest(f"response_key: {_show(key)} is not a response key of this participant "
                             f"({[k for ks in position_keys for k in ks]})")
        if pos != expected:
            raise BadRequest(f"response_position: {_show(pos)} but key {key!r} answers position {expected}")
        if rt is None:
            raise BadRequest("rt: missing for a response")
    elif pos is not None or rt is not None:
        raise BadRequest("response_position/rt given without a response_key")
    correct = int(pos is not None and pos == planned.get("odd_position"))
    sent = body.get("correct")
    if sent is not None and (isinstance(sent, bool) or sent not in (0, 1) or sent != correct):
        raise BadRequest(f"correct: {_show(sent)} but the response is {'right' if correct else 'wrong'} by the plan")
    row.update(response_key=key, response_position=pos, correct=correct, rt=rt,
               frame_interval_mean_ms=number(body, "frame_interval_mean_ms", 0.0, 1e5),
               frame_interval_sd_ms=number(body, "frame_interval_sd_ms", 0.0, 1e5),
               dropped_frames=number(body, "dropped_frames", 0, 10**6, integer=True),
               timestamp=timestamp(body))
    for c in all_cols:
        if c not in row:
            row[c] = scalar(body, c)
    return row


def run_info(body: dict[str, Any]) -> dict[str, Any]:
    """The browser's report of a run (screen, calibration, refresh rate), bounded in size and type.

    Only the known keys are kept, each checked; nested objects are kept only as JSON of bounded size.
    """
    import json

    out: dict[str, Any] = {
        "first_trial": number(body, "first_trial", 1, 10**6, integer=True),
        "frame_rate_hz": number(body, "frame_rate_hz", 1.0, 1000.0),
        "frame_interval_sd_ms": number(body, "frame_interval_sd_ms", 0.0, 1e5),
        "layout_fits": body.get("layout_fits") if isinstance(body.get("layout_fits"), bool) else None,
        "fullscreen": body.get("fullscreen") if isinstance(body.get("fullscreen"), bool) else None,
        "user_agent": text(body, "user_agent", 400),
        "jspsych_version": text(body, "jspsych_version", 40),
    }
    for name in ("durations_frames", "calibration", "layout_px", "screen", "browser", "preload"):
        v = body.get(name)
        if v is None:
            out[name] = None
            continue
        if not isinstance(v, dict) or len(json.dumps(v)) > 8000:
            raise BadRequest(f"{name}: {_show(v)} is not an object of at most 8000 characters of JSON")
        out[name] = v
    return out
