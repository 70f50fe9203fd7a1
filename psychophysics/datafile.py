"""Session files: the data contract between experiment and analysis.

Files (all in the data folder ``DATA_DIR``)
-------------------------------------------
``sub-<participant>_ses-<session>_trials.csv``
    UTF-8 (no BOM), a header row, then one row per trial, appended, flushed and ``os.fsync``'d
    when the trial ends (a SIGKILL loses at most the trial in progress; ``mrd simulate`` fsyncs
    once per simulated participant instead). Columns: :data:`stimuli.sessions.TRIAL_COLUMNS`, in
    that order (the planned ones, :data:`stimuli.sessions.PLANNED_COLUMNS`, are copied from the plan).
``sub-<participant>_ses-<session>_session.json`` (the sidecar)
    Keys :data:`stimuli.sessions.SIDECAR_KEYS` and more; rewritten atomically (temporary file,
    fsync, rename).
``sub-<participant>_ses-<session>_plan.json``
    The planned trial sequence (``trials``: dicts of the planned columns).

The reference of every column and key is ``docs/session-data.md``.

Never overwrite: :meth:`SessionFiles.create` refuses when any of the three files exists;
:meth:`SessionFiles.resume` checks the rows against the plan and returns the trials still to run.

Examples
--------
>>> import tempfile
>>> f = SessionFiles(tempfile.mkdtemp(), "P01", 1)
>>> f.trials_csv.name
'sub-P01_ses-1_trials.csv'
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psychophysics.design import Trial
from stimuli.errors import MRDError
from stimuli.fsutil import fsync_dir
from stimuli.sessions import PLANNED_COLUMNS, SESSION_DATA_VERSION, TRIAL_COLUMNS, session_stem

COLUMNS: tuple[str, ...] = TRIAL_COLUMNS
"""CSV columns, in order (the contract's :data:`stimuli.sessions.TRIAL_COLUMNS`)."""

PARTICIPANT_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")


def check_participant(participant: str, session: int) -> None:
    """Validate a participant id and session number.

    Raises
    ------
    MRDError
        Naming the value and what is valid.

    Examples
    --------
    >>> check_participant("P01", 1)
    >>> check_participant("../x", 1)
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: participant id '../x' is invalid: use 1-32 characters from A-Z a-z 0-9 _ -
    """
    if not isinstance(participant, str) or not PARTICIPANT_RE.fullmatch(participant):
        raise MRDError(f"participant id {participant!r} is invalid: use 1-32 characters from A-Z a-z 0-9 _ -")
    if isinstance(session, bool) or not isinstance(session, int) or session < 1:
        raise MRDError(f"session {session!r} is invalid: use an integer >= 1")


def check_folder(path: Path, option: str) -> None:
    """Refuse a folder option that names a file (or lies below one).

    Examples
    --------
    >>> check_folder(Path("/etc/hostname"), "--data-dir")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: --data-dir /etc/hostname: is a file, not a folder; give a folder (it is created if missing)
    """
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                what = "is a file" if p == path else f"lies inside {p}, which is a file"
                raise MRDError(f"{option} {path}: {what}, not a folder; give a folder (it is created if missing)")
            return


def utc_now() -> str:
    """Current UTC time, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _json_default(obj: Any) -> Any:
    """numpy scalars and arrays as plain numbers and lists."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, default=_json_default)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)


class SessionFiles:
    """The three files of one participant's session.

    Parameters
    ----------
    data_dir : str or Path
        The data folder (created if missing).
    participant : str
        Participant id (validated).
    session : int
        Session number (validated).

    Attributes
    ----------
    fsync_each_row : bool
        ``True`` (the default, and always for a real session): every row is fsync'd as it is
        written. The window-less simulation sets it ``False`` and fsyncs once per participant
        (a simulation can simply be re-run; 4 ms per fsync would dominate its run time).
    """

    def __init__(self, data_dir: str | Path, participant: str, session: int) -> None:
        check_participant(participant, session)
        self.data_dir = Path(data_dir)
        check_folder(self.data_dir, "--data-dir")
        self.participant = participant
        self.session = session
        stem = session_stem(participant, session)
        self.trials_csv = self.data_dir / f"{stem}_trials.csv"
        self.sidecar_json = self.data_dir / f"{stem}_session.json"
        self.plan_json = self.data_dir / f"{stem}_plan.json"
        self._fh: io.TextIOWrapper | None = None
        self.fsync_each_row = True

    @property
    def paths(self) -> list[Path]:
        """The CSV, sidecar and plan paths."""
        return [self.trials_csv, self.sidecar_json, self.plan_json]

    def exists(self) -> bool:
        """Whether any of the three files exists."""
        return any(p.exists() for p in self.paths)

    def ensure_new(self) -> None:
        """Raise :class:`MRDError` if any file of this participant and session exists."""
        existing = [str(p) for p in self.paths if p.exists()]
        if existing:
            raise MRDError(
                f"session data already exist for participant '{self.participant}' session "
                f"{self.session}: {existing}; use --resume to continue it, or another "
                f"--session / --participant / --data-dir"
            )

    def create(self, plan: dict[str, Any], sidecar: dict[str, Any]) -> None:
        """Start a new session: write plan, sidecar and the CSV header.

        Raises
        ------
        MRDError
            If any file of this participant and session exists (never overwrite).
        """
        self.ensure_new()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MRDError(f"--data-dir {self.data_dir}: cannot create the folder ({exc.strerror})") from None
        _write_json_atomic(self.plan_json, plan)
        self.write_sidecar(sidecar)
        with open(self.trials_csv, "x", encoding="utf-8", newline="") as fh:
            fh.write(",".join(COLUMNS) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        fsync_dir(self.data_dir)

    def read_plan(self) -> dict[str, Any]:
        """The saved plan (dict with ``trials``)."""
        return self._read_json(self.plan_json)

    def read_sidecar(self) -> dict[str, Any]:
        """The saved sidecar."""
        return self._read_json(self.sidecar_json)

    def _read_json(self, path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MRDError(f"{path}: missing; cannot resume this session") from None
        except json.JSONDecodeError as exc:
            raise MRDError(f"{path}: not valid JSON ({exc})") from None

    def write_sidecar(self, sidecar: dict[str, Any]) -> None:
        """Rewrite the sidecar atomically."""
        _write_json_atomic(self.sidecar_json, sidecar)

    def read_rows(self, repair: bool = False) -> list[dict[str, str]]:
        """Read the CSV rows (as strings).

        Parameters
        ----------
        repair : bool
            Cut off an incomplete last line (a crash during the write of a row) instead of failing.
        """
        raw = self.trials_csv.read_bytes()
        if raw and not raw.endswith(b"\n"):
            if not repair:
                raise MRDError(f"{self.trials_csv}: the last row is incomplete (crash while writing)")
            cut = raw.rfind(b"\n") + 1
            with open(self.trials_csv, "r+b") as fh:
                fh.truncate(cut)
                os.fsync(fh.fileno())
            raw = raw[:cut]
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8")))
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise MRDError(
                f"{self.trials_csv}: header {reader.fieldnames} differs from the expected {COLUMNS}"
            )
        return list(reader)

    def resume(self) -> tuple[dict[str, Any], list[Trial], int]:
        """Check a started session and find where to continue.

        Returns
        -------
        plan : dict
            The saved plan.
        trials : list of Trial
            The whole planned sequence.
        n_done : int
            Rows already written; the session continues with ``trials[n_done]``.

        Raises
        ------
        MRDError
            If files are missing or the rows do not follow the plan.
        """
        missing = [p for p in self.paths if not p.exists()]
        if len(missing) == 3:
            raise MRDError(
                f"nothing to resume: no data for participant '{self.participant}' session "
                f"{self.session} in {self.data_dir}"
            )
        if missing:
            raise MRDError(self._incomplete_message(missing))
        plan = self.read_plan()
        try:
            trials = [Trial.from_dict(t) for t in plan["trials"]]
        except (KeyError, TypeError) as exc:
            raise MRDError(f"{self.plan_json}: not a session plan ({exc!r} missing); cannot resume") from None
        rows = self.read_rows(repair=True)
        by_number = {t.trial: i for i, t in enumerate(trials)}
        last = -1
        for n, row in enumerate(rows, start=1):
            idx = by_number.get(_int_or_none(row.get("trial")))
            skipped = trials[last + 1 : idx] if idx is not None else []
            if idx is None or idx <= last or any(t.block_type != "practice" or t.practice_round < 2 for t in skipped):
                raise MRDError(
                    f"{self.trials_csv}: row {n} has trial {row.get('trial')!r}, which is not the next planned "
                    f"trial after trial {trials[last].trial if last >= 0 else 0} in {self.plan_json}; cannot resume"
                )
            planned = trials[idx].to_dict()
            for col in PLANNED_COLUMNS:
                if col in row and row[col] != _format(planned.get(col)):
                    raise MRDError(
                        f"{self.trials_csv}: row {n} (trial {row['trial']}): field '{col}' = {row[col]!r} but "
                        f"{self.plan_json} plans {_format(planned.get(col))!r}; the rows do not follow this plan, "
                        "cannot resume"
                    )
            last = idx
        return plan, trials, last + 1

    def _incomplete_message(self, missing: list[Path]) -> str:
        present = [p for p in self.paths if p not in missing]
        has_rows = self.trials_csv.exists() and self.trials_csv.read_bytes().count(b"\n") > 1
        names = ", ".join(p.name for p in missing)
        if not has_rows:
            how = (
                "no trial was recorded, so nothing is lost: move the remaining file(s) "
                f"({', '.join(p.name for p in present)}) out of {self.data_dir} and start the session again "
                "(without --resume)"
            )
        else:
            how = (
                f"{self.trials_csv.name} holds the recorded trials and is kept as it is: restore the missing "
                f"file(s) from a backup and --resume, or move all of this session's files aside and run the "
                f"participant with a new --session number"
            )
        return (
            f"cannot resume participant '{self.participant}' session {self.session}: {names} missing in "
            f"{self.data_dir} (the session files are incomplete; a crash while the session was being created, "
            f"or a file was moved). Nothing was written. To recover: {how}"
        )

    def append(self, row: dict[str, Any]) -> None:
        """Append one trial row; flushed and (if ``fsync_each_row``) fsync'd before returning."""
        if self._fh is None:
            self._fh = open(self.trials_csv, "a", encoding="utf-8", newline="")  # noqa: SIM115 (kept open)
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow([_format(row.get(c)) for c in COLUMNS])
        self._fh.write(line.getvalue())
        self._fh.flush()
        if self.fsync_each_row:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        """fsync and close the CSV handle."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None


def _int_or_none(text: Any) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def trial_row(
    participant: str,
    session: int,
    trial: Trial,
    response_key: str | None,
    response_position: int | None,
    rt: float | None,
    frame_stats: tuple[float | None, float | None, int | None] = (None, None, None),
    timing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble a CSV row from a planned trial and its outcome.

    Examples
    --------
    >>> t = Trial(1, "main", 1, 1, "m0", "s0", "net", "shape", 0, "metamer", 2, 0)
    >>> r = trial_row("P01", 1, t, "2", 2, 0.41)
    >>> r["correct"], r["response_position"]
    (1, 2)
    """
    row: dict[str, Any] = {"participant": participant, "session": session, **trial.to_dict()}
    row.update(
        response_key=response_key or "",
        response_position=response_position,
        correct=int(response_position == trial.odd_position),
        rt=rt,
        frame_interval_mean_ms=frame_stats[0],
        frame_interval_sd_ms=frame_stats[1],
        dropped_frames=frame_stats[2],
        timestamp=utc_now(),
    )
    row.update(timing or {})
    return row


def new_sidecar(
    files: SessionFiles,
    stimulus_set: str | Path,
    digest: str,
    config: dict[str, Any],
    versions: dict[str, str],
    monitor: dict[str, Any],
    n_planned: int,
    observer: str | None,
    observer_params: dict[str, Any] | None,
) -> dict[str, Any]:
    """The sidecar of a new session (``completed`` false, ``ended`` null)."""
    return {
        "participant": files.participant,
        "session": files.session,
        "stimulus_set": str(Path(stimulus_set).resolve()),
        "stimulus_digest": digest,
        "experiment_config": config,
        "versions": versions,
        "monitor": monitor,
        "frame_rate_hz": None,
        "started": utc_now(),
        "ended": None,
        "completed": False,
        "n_trials_planned": n_planned,
        "n_trials_done": 0,
        "observer": observer,
        "observer_params": observer_params,
        "runs": [],
        "durations_frames": None,
        "session_data_version": SESSION_DATA_VERSION,
    }
