"""``mrd import-online``: jsPsych data files from other hosts into the session-data contract.

Accepted files (any mix, several sessions per file):

* a JSON array of records: jsPsych's ``jsPsych.data.get().json()``, or the file the task itself
  offers for download when the collection endpoint cannot be reached;
* JSON lines, one record per line: what the task appends to JATOS result data
  (``jatos.appendResultData``), as JATOS exports it;
* CSV with a header row: jsPsych's ``.csv()`` as Pavlovia or a Prolific pipeline saves it.

A trial record is one with ``mrd = "trial"``, ``mrd_message = "trial"`` or jsPsych's
``trial_type = "mrd-oddity"``. Each is checked like a message to ``mrd serve-online`` (the same
:class:`~psychophysics.online.store.SessionStore`): its stimulus digest must be the bundle's, its
planned columns the plan's, its response fields valid, and trials are taken in plan order; trials
already in the data folder are skipped, so importing the same file twice adds nothing.

Examples
--------
>>> records_from_text('[{"mrd": "trial", "trial": 1}]', "x.json")
[{'mrd': 'trial', 'trial': 1}]
>>> records_from_text('trial,participant\\n1,007\\n', "x.csv")
[{'trial': 1, 'participant': '007'}]
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

from stimuli.errors import MRDError

TEXT_FIELDS = {"participant", "response_key", "metamer_id", "scene_id", "model_id", "group", "odd_item",
               "block_type", "trial_type", "timestamp", "stimulus_digest", "run_id", "mrd", "mrd_message"}
JSPSYCH_FIELDS = ("time_elapsed", "trial_index", "internal_node_id", "plugin_version", "mrd_message", "rt_jspsych")
_INT = re.compile(r"-?\d+")


def _value(field: str, raw: str) -> Any:
    if raw == "" or raw == "null":
        return None
    if field in TEXT_FIELDS:
        return raw
    if _INT.fullmatch(raw):
        return int(raw)
    try:
        return float(raw)
    except ValueError:
        return {"true": True, "false": False}.get(raw, raw)


def records_from_text(text: str, name: str) -> list[dict[str, Any]]:
    """Records of one data file (JSON array, JSON lines or CSV), as dicts.

    Raises
    ------
    MRDError
        If the file is none of these.
    """
    stripped = text.lstrip("\ufeff").strip()
    if not stripped:
        return []
    if stripped[0] in "[{":
        try:
            data = json.loads(stripped)
            if isinstance(data, dict):
                data = data.get("trials", data.get("data", [data]))
            if isinstance(data, list) and all(isinstance(r, dict) for r in data):
                return data
        except json.JSONDecodeError:
            pass
        out = []
        for n, line in enumerate(stripped.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise MRDError(f"{name}: line {n} is not JSON ({exc.msg}); expected jsPsych JSON or JSON lines") from None
            if not isinstance(rec, dict):
                raise MRDError(f"{name}: line {n} is not a JSON object")
            out.append(rec)
        return out
    reader = csv.DictReader(io.StringIO(stripped))
    if not reader.fieldnames or "trial" not in reader.fieldnames:
        raise MRDError(f"{name}: neither JSON nor a CSV with a 'trial' column (jsPsych's data.csv())")
    return [{k: _value(k, v or "") for k, v in row.items() if k} for row in reader]


def _kind(rec: dict[str, Any]) -> str | None:
    if rec.get("mrd") == "trial" or rec.get("mrd_message") == "trial" or rec.get("trial_type") == "mrd-oddity":
        return "trial"
    if rec.get("trial_type") == "mrd-run" or rec.get("mrd_message") == "run":
        return "run"
    return None


def _trial_body(rec: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in rec.items() if k not in JSPSYCH_FIELDS}
    if body.get("trial_type") == "mrd-oddity":  # jsPsych's plugin name replaced the planned trial_type
        body.pop("trial_type")
    return body


def import_files(files: list[str | Path], bundle: str | Path, data_dir: str | Path,
                 stimuli_path: str | Path | None = None) -> dict[tuple[str, int], tuple[int, int, bool]]:
    """Import data files into a data folder.

    Parameters
    ----------
    files : list of path
        jsPsych data files.
    bundle : str or Path
        The bundle they were collected with (its manifest and plans).
    data_dir : str or Path
        The data folder.
    stimuli_path : str or Path, optional
        A stimulus set whose digest must equal the bundle's.

    Returns
    -------
    dict
        ``{(participant, session): (trials added, trials on disk, complete)}``.

    Raises
    ------
    MRDError
        Naming the file, trial and field at fault (what was imported before the fault stays).

    Examples
    --------
    >>> import_files(["results.txt"], "/nonexistent", "data")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: /nonexistent/data/manifest.js: missing; is this a bundle written by `mrd export-online`?
    """
    from psychophysics.online.bundle import read_manifest
    from psychophysics.online.records import BadRequest, check_id, check_session
    from psychophysics.online.store import SessionStore

    manifest = read_manifest(bundle)
    digest = manifest["stimulus_digest"]
    if stimuli_path is not None:
        from stimuli import StimulusSet

        with StimulusSet(stimuli_path) as s:
            if s.digest != digest:
                raise MRDError(f"{stimuli_path}: stimulus digest {s.digest[:16]}... differs from the bundle's "
                               f"{digest[:16]}... ({bundle}); these data were collected with other stimuli")
    store = SessionStore(data_dir, manifest, bundle, source="mrd import-online")
    result: dict[tuple[str, int], tuple[int, int, bool]] = {}
    for f in files:
        path = Path(f)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MRDError(f"{path}: cannot read ({exc})") from None
        recs = records_from_text(text, str(path))
        groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
        runs: dict[tuple[str, int], dict[str, Any]] = {}
        for n, rec in enumerate(recs, start=1):
            kind = _kind(rec)
            if kind is None:
                continue
            try:
                key = (check_id(rec.get("participant")), check_session(rec.get("session")))
            except BadRequest as exc:
                raise MRDError(f"{path}: record {n}: {exc}") from None
            if kind == "run":
                runs.setdefault(key, rec)
                continue
            if rec.get("stimulus_digest") != digest:
                raise MRDError(f"{path}: record {n} (trial {rec.get('trial')}): stimulus_digest "
                               f"{str(rec.get('stimulus_digest'))[:16]}... is not the bundle's {digest[:16]}...")
            groups.setdefault(key, []).append(rec)
        run_id = "import-" + hashlib.sha256(text.encode()).hexdigest()[:16]
        for (pid, ses), trials in groups.items():
            try:
                store.handle("open", {"participant": pid, "session": ses, "run_id": run_id,
                                      "stimulus_digest": digest, "user_agent": None})
                if (pid, ses) in runs:
                    info = {k: v for k, v in runs[(pid, ses)].items() if k not in ("trial_type", "mrd_message", *JSPSYCH_FIELDS)}
                    info.update(participant=pid, session=ses, run_id=run_id)
                    store.handle("run", {k: v for k, v in info.items() if not isinstance(v, str) or len(v) < 400})
            except BadRequest as exc:
                raise MRDError(f"{path}: participant {pid} session {ses}: {exc}") from None
            added = 0
            with store.lock:
                st = store.state(pid, ses)
                on_disk = {int(r["trial"]) for r in st.rows}
                for rec in sorted(trials, key=lambda r: (r.get("trial") if isinstance(r.get("trial"), int) else -1)):
                    if rec.get("trial") in on_disk:
                        continue
                    try:
                        answer = store._trial(st, pid, ses, _trial_body(rec), lenient=("trial_type",))
                    except BadRequest as exc:
                        raise MRDError(f"{path}: participant {pid} session {ses} trial {rec.get('trial')}: {exc}") from None
                    if not answer.get("duplicate"):
                        added += 1
                        on_disk.add(int(rec["trial"]))
            end = store.handle("end", {"participant": pid, "session": ses, "run_id": run_id, "reason": "imported"})
            prev = result.get((pid, ses), (0, 0, False))
            result[(pid, ses)] = (prev[0] + added, len(st.rows), bool(end["completed"]))
    if not result:
        raise MRDError(f"no trials of the oddity task in {[str(f) for f in files]} (records with mrd = 'trial' "
                       "or trial_type = 'mrd-oddity')")
    return result
