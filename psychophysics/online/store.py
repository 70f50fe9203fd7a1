"""Online data into the session-data contract: one writer for the collection server and the importer.

For participant ``P`` session ``S`` of a bundle, the data folder receives exactly what the lab
session writes (:mod:`stimuli.sessions`): ``sub-P_ses-S_plan.json`` (the bundle's plan, its
planned columns only), ``sub-P_ses-S_session.json`` (the sidecar with the stimulus digest; one
entry in ``runs`` per page load) and ``sub-P_ses-S_trials.csv`` (one row per trial, appended,
flushed and fsync'd before the browser is told it arrived).

Rules: a trial is accepted only as the next one the plan expects (practice rounds that the
criterion skips, :func:`psychophysics.design.skip_trial`, are passed over); a trial already on disk
is acknowledged again without writing (a retry after a lost answer), whatever it says (the first
answer is kept: never overwritten); anything else is refused. State is re-read from disk when a
session is first touched, so a restarted server continues where the files end.

Examples
--------
>>> import tempfile
>>> SessionStore(tempfile.mkdtemp(), {"participants": {}}, "/nonexistent").state("P01", 1)
Traceback (most recent call last):
...
psychophysics.online.records.BadRequest: this study has no session 1 for participant 'P01'
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psychophysics.online import records
from psychophysics.online.records import BadRequest
from stimuli.errors import MRDError
from stimuli.fsutil import fsync_dir


def utc_now() -> str:
    """Current UTC time, ISO 8601 (milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)


def _write_json_atomic(path: Path, data: dict[str, Any], exclusive: bool = False) -> None:
    if exclusive and path.exists():
        raise MRDError(f"{path}: exists; session data are never overwritten")
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


class SessionState:
    """One session's plan, rows on disk and sidecar (guarded by the store's lock)."""

    def __init__(self, paths: dict[str, Path], plan: dict[str, Any], position_keys: list[list[str]]) -> None:
        self.paths, self.plan, self.position_keys = paths, plan, position_keys
        self.by_trial = {int(t["trial"]): t for t in plan["trials"]}
        self.rows: list[dict[str, Any]] = []
        self.sidecar: dict[str, Any] = {}

    def next_trial(self, criterion: float) -> int | None:
        """The trial number the plan expects next (``None``: the session is complete)."""
        from psychophysics import design
        from psychophysics.design import Trial

        skip = getattr(design, "skip_trial", None)
        last = int(self.rows[-1]["trial"]) if self.rows else 0
        for t in self.plan["trials"]:
            if t["trial"] <= last:
                continue
            if skip is not None and criterion > 0 and skip(Trial.from_dict(t), self.rows, criterion):
                continue
            return int(t["trial"])
        return None

    def progress(self, criterion: float) -> dict[str, Any]:
        """What the page needs to continue: trials done, running accuracy, the practice record."""
        main = [r for r in self.rows if r["block_type"] == "main"]
        return {
            "n_done": int(self.rows[-1]["trial"]) if self.rows else 0,
            "n_rows": len(self.rows),
            "next_trial": self.next_trial(criterion),
            "main_n": len(main),
            "main_correct": sum(int(r["correct"]) for r in main),
            "done": [{"trial": int(r["trial"]), "practice_round": int(r.get("practice_round") or 0),
                      "correct": int(r["correct"]), "block_type": r["block_type"]} for r in self.rows],
        }


class SessionStore:
    """Writes the sessions of one bundle into one data folder.

    Parameters
    ----------
    data_dir : str or Path
        The data folder (created if missing). Nothing is ever written outside it.
    manifest : dict
        The bundle's manifest (:func:`psychophysics.online.bundle.read_manifest`).
    bundle_dir : str or Path
        The bundle folder (plans are read from it).
    source : str
        How the data arrive, recorded in each run (``"mrd serve-online"``, ``"mrd import-online"``).
    """

    def __init__(self, data_dir: str | Path, manifest: dict[str, Any], bundle_dir: str | Path,
                 source: str = "mrd serve-online") -> None:
        self.data_dir = Path(data_dir).resolve()
        self.manifest, self.bundle_dir, self.source = manifest, Path(bundle_dir), source
        self.lock = threading.Lock()
        self._states: dict[tuple[str, int], SessionState] = {}
        design = manifest.get("experiment_config", {}).get("design", {})
        self.criterion = float(design.get("practice_criterion", 0.0) or 0.0)

    # -- sessions -----------------------------------------------------------------------------
    def _paths(self, participant: str, session: int) -> dict[str, Path]:
        from stimuli.sessions import session_stem

        stem = session_stem(records.check_id(participant), records.check_session(session))
        paths = {k: self.data_dir / f"{stem}_{k}.{ext}" for k, ext in
                 (("trials", "csv"), ("session", "json"), ("plan", "json"))}
        for p in paths.values():  # ids are validated; this only guards the rule itself
            if p.resolve().parent != self.data_dir:
                raise BadRequest(f"{p.name}: would lie outside the data folder")
        return paths

    def state(self, participant: str, session: int) -> SessionState:
        """The session's state, read from the bundle and the data folder on first use."""
        participant, session = records.check_id(participant), records.check_session(session)
        key = (participant, session)
        if key in self._states:
            return self._states[key]
        if str(session) not in self.manifest["participants"].get(participant, {}):
            raise BadRequest(f"this study has no session {session} for participant {participant!r}", 404)
        from psychophysics.online.bundle import plan_path, read_data_file

        bundle_plan = read_data_file(plan_path(self.bundle_dir, participant, session))
        _, plan_cols = records.columns()
        plan = {k: v for k, v in bundle_plan.items() if k not in ("trials", "keys", "keys_browser")}
        plan["trials"] = [{c: t.get(c) for c in plan_cols} for t in bundle_plan["trials"]]
        keys = bundle_plan.get("keys") or self.manifest["keys"]["psychopy"]
        st = SessionState(self._paths(participant, session), plan,
                          [list(keys[f"position_{i}"]) for i in (1, 2, 3)])
        self._load(st)
        self._states[key] = st
        return st

    def _load(self, st: SessionState) -> None:
        from stimuli.sessions import TRIAL_COLUMNS

        present = [k for k, p in st.paths.items() if p.exists()]
        if not present:
            return
        if len(present) < 3:
            raise MRDError(f"{self.data_dir}: the session files are incomplete (only {present}); not touched")
        saved = json.loads(st.paths["plan"].read_text(encoding="utf-8"))
        if saved.get("trials") != st.plan["trials"] or saved.get("stimulus_digest") != st.plan["stimulus_digest"]:
            raise BadRequest(f"{st.paths['plan'].name}: the data folder holds this session with another plan "
                             "or stimulus set; use another --data-dir", 409)
        raw = st.paths["trials"].read_bytes()
        if raw and not raw.endswith(b"\n"):  # a crash while writing a row: the row was never acknowledged
            cut = raw.rfind(b"\n") + 1
            with open(st.paths["trials"], "r+b") as fh:
                fh.truncate(cut)
                os.fsync(fh.fileno())
            raw = raw[:cut]
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8")))
        if tuple(reader.fieldnames or ()) != tuple(TRIAL_COLUMNS):
            raise MRDError(f"{st.paths['trials']}: header differs from the session-data contract's columns")
        st.rows = list(reader)
        st.sidecar = json.loads(st.paths["session"].read_text(encoding="utf-8"))

    def _create(self, st: SessionState, participant: str, session: int) -> None:
        from stimuli import sessions
        from stimuli.sessions import SIDECAR_KEYS, TRIAL_COLUMNS

        self.data_dir.mkdir(parents=True, exist_ok=True)
        m = self.manifest
        side: dict[str, Any] = dict.fromkeys(SIDECAR_KEYS)
        side.update(
            participant=participant, session=session, stimulus_set=m["stimulus_set"],
            stimulus_digest=m["stimulus_digest"], experiment_config=m["experiment_config"],
            versions={**m.get("versions", {}), "python": platform.python_version(), "collected_by": self.source},
            monitor=None, frame_rate_hz=None, started=utc_now(), ended=None, completed=False,
            n_trials_planned=len(st.plan["trials"]), n_trials_done=0, observer=None, observer_params=None,
            runs=[], durations_frames=None, online={"bundle_format": m.get("format"), "source": self.source},
        )
        for key in ("key_order", "selection"):  # as the lab's sidecar records them
            if key in st.plan:
                side[key] = st.plan[key]
        if "session_data_version" in SIDECAR_KEYS:
            side["session_data_version"] = getattr(sessions, "SESSION_DATA_VERSION", None)
        _write_json_atomic(st.paths["plan"], st.plan, exclusive=True)
        _write_json_atomic(st.paths["session"], side, exclusive=True)
        with open(st.paths["trials"], "x", encoding="utf-8", newline="") as fh:
            fh.write(",".join(TRIAL_COLUMNS) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        fsync_dir(self.data_dir)
        st.sidecar = side

    def _save_sidecar(self, st: SessionState) -> None:
        st.sidecar["n_trials_done"] = len(st.rows)
        st.sidecar["completed"] = st.next_trial(self.criterion) is None
        _write_json_atomic(st.paths["session"], st.sidecar)

    def _run(self, st: SessionState, run_id: str) -> dict[str, Any]:
        for r in st.sidecar.get("runs", []):
            if r.get("run_id") == run_id:
                return r
        raise BadRequest(f"run_id {run_id!r} was not opened for this session (send 'open' first)", 409)

    # -- messages -----------------------------------------------------------------------------
    def handle(self, kind: str, body: Any) -> dict[str, Any]:
        """Apply one message (``open``, ``run``, ``trial``, ``end``) and return the answer.

        Raises
        ------
        BadRequest
            For anything the rules refuse (nothing is written then).

        Examples
        --------
        >>> import tempfile
        >>> SessionStore(tempfile.mkdtemp(), {"participants": {}}, "web").handle("open", {"participant": "a/b"})
        Traceback (most recent call last):
        ...
        psychophysics.online.records.BadRequest: participant: 'a/b' is not an id (1-32 of A-Z a-z 0-9 _ -)
        """
        if not isinstance(body, dict):
            raise BadRequest(f"the body must be a JSON object, not {type(body).__name__}")
        if kind not in ("open", "run", "trial", "end"):
            raise BadRequest(f"unknown message {kind!r}", 404)
        participant = records.check_id(body.get("participant"))
        session = records.check_session(body.get("session"))
        with self.lock:
            st = self.state(participant, session)
            if kind == "run":
                return self._run_message(st, body)
            return {"open": self._open, "trial": self._trial, "end": self._end}[kind](st, participant, session, body)

    def _open(self, st: SessionState, participant: str, session: int, body: dict[str, Any]) -> dict[str, Any]:
        run_id = records.text(body, "run_id", 64, required=True)
        if not records.RUN_ID_RE.fullmatch(run_id):  # type: ignore[arg-type]
            raise BadRequest(f"run_id: {run_id!r} must be 1-64 of A-Z a-z 0-9 _ . : -")
        if body.get("stimulus_digest") != self.manifest["stimulus_digest"]:
            raise BadRequest(f"stimulus_digest: {records._show(body.get('stimulus_digest'))} is not this study's", 409)
        agent = records.text(body, "user_agent", 400)
        records.text(body, "client_time", 40)
        if not st.sidecar:
            self._create(st, participant, session)
        if not any(r.get("run_id") == run_id for r in st.sidecar["runs"]):
            nxt = st.next_trial(self.criterion)
            st.sidecar["runs"].append({"run_id": run_id, "started": utc_now(), "ended": None,
                                       "first_trial": nxt, "user_agent": agent, "source": self.source})
            self._save_sidecar(st)
        return {"ok": True, **st.progress(self.criterion)}

    def _run_message(self, st: SessionState, body: dict[str, Any]) -> dict[str, Any]:
        run = self._run(st, records.text(body, "run_id", 64, required=True))  # type: ignore[arg-type]
        info = records.run_info(body)
        run.update({k: v for k, v in info.items() if k != "first_trial"})
        st.sidecar["frame_rate_hz"] = info["frame_rate_hz"]
        st.sidecar["durations_frames"] = info["durations_frames"]
        st.sidecar["monitor"] = {"calibration": info["calibration"], "screen": info["screen"],
                                 "layout_px": info["layout_px"], "layout_fits": info["layout_fits"],
                                 "fullscreen": info["fullscreen"]}
        self._save_sidecar(st)
        return {"ok": True}

    def _trial(self, st: SessionState, participant: str, session: int, body: dict[str, Any],
               lenient: tuple[str, ...] = ()) -> dict[str, Any]:
        if not st.sidecar:
            raise BadRequest("this session was not opened (send 'open' first)", 409)
        number = records.number(body, "trial", 1, 10**6, integer=True, required=True)
        planned = st.by_trial.get(int(number))  # type: ignore[arg-type]
        if planned is None:
            raise BadRequest(f"trial: {number} is not in the plan (1..{len(st.plan['trials'])})", 409)
        row = records.trial_row(body, planned, participant, session, st.position_keys,
                                self.manifest["stimulus_digest"], lenient)
        if any(int(r["trial"]) == number for r in st.rows):
            return {"ok": True, "duplicate": True, **_small(st.progress(self.criterion))}
        expected = st.next_trial(self.criterion)
        if number != expected:
            raise BadRequest(f"trial: {number} arrived, but the plan expects trial {expected} next", 409)
        self._append(st, row)
        if st.next_trial(self.criterion) is None:
            self._save_sidecar(st)
        return {"ok": True, **_small(st.progress(self.criterion))}

    def _append(self, st: SessionState, row: dict[str, Any]) -> None:
        from stimuli.sessions import TRIAL_COLUMNS

        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow([_format(row.get(c)) for c in TRIAL_COLUMNS])
        with open(st.paths["trials"], "a", encoding="utf-8", newline="") as fh:
            fh.write(line.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        st.rows.append({c: _format(row.get(c)) for c in TRIAL_COLUMNS})

    def _end(self, st: SessionState, participant: str, session: int, body: dict[str, Any]) -> dict[str, Any]:
        run = self._run(st, records.text(body, "run_id", 64, required=True))  # type: ignore[arg-type]
        reason = records.text(body, "reason", 40) or "unknown"
        now = utc_now()
        run.update(ended=now, end_reason=reason, last_trial=int(st.rows[-1]["trial"]) if st.rows else 0)
        st.sidecar["ended"] = now
        self._save_sidecar(st)
        return {"ok": True, "completed": st.sidecar["completed"]}


def _small(progress: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in progress.items() if k != "done"}

