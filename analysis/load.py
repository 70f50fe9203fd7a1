"""Load trials into one tidy table: session data with its stimulus set, or a plain trial table.

Two entries give the same canonical columns (``participant``, ``item``, ``condition``, ``group``,
``correct``, ``analysed``; plus ``similarity`` and ``distance`` where a model axis exists):

* :func:`load_sessions` reads every ``sub-<p>_ses-<s>_trials.csv`` with its ``_session.json``
  sidecar under a data folder (the psychophysics data contract), first recomputes the stimulus
  set's content digest from its image bytes (refusing a set whose images no longer give its stored
  digest) and checks the metamers' stored numbers against their checksums (schema 1.1), refuses any
  session whose ``stimulus_digest`` differs from that digest, and joins each trial with its metamer's
  metadata (varied group, model, similarity per model and layer at the view shown, physical
  distances, success). Main-block non-catch trials are *analysed*; practice and catch trials are
  kept and flagged (catch accuracy estimates the lapse rate).
* :func:`load_trials_table` reads any tidy CSV of oddity trials (one row per trial) with a
  column mapping, e.g. published data without a stimulus set.

Columns added to the session CSV columns by :func:`load_sessions`: ``responded`` (a response was
given), ``session_file``, ``scene_id``/``model_id``/``group`` (from the store; the CSV's values are
checked against it and kept for catch trials), ``success``, ``converged``, ``null_max_cosine``,
``phys_<name>`` (each physical distance), ``sim:<model>`` and ``sim:<model>:<layer>`` (the metamer's
cosine similarity under every scoring model, averaged over views, and per layer), ``similarity``
(per trial: layer-averaged cosine at the view shown, under the similarity model), ``distance``
(``1 - similarity``), ``item`` (= ``metamer_id``), ``condition`` (``"<group> / <model_id>"``) and
``analysed``; ``is_catch`` becomes boolean.

Examples
--------
>>> import tempfile, pathlib
>>> from analysis.synthetic import make_store, simulate_sessions
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> store = make_store(tmp / "set.h5", n_scenes=2, metamers_per_scene=1)
>>> _ = simulate_sessions(store, tmp / "data", n_participants=2, n_main=20, seed=0)
>>> data = load_sessions(tmp / "data", store)
>>> int(data.trials["analysed"].sum()) <= 40, sorted(data.trials["participant"].unique())
(True, ['P01', 'P02'])
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.load_checks import check_ids, verify_store
from stimuli import StimulusSet
from stimuli.errors import MRDError

REQUIRED_TRIAL_COLUMNS = (
    "participant",
    "session",
    "block",
    "block_type",
    "trial",
    "metamer_id",
    "view",
    "odd_position",
    "response_position",
    "correct",
    "is_catch",
)
SIDECAR_KEYS = (
    "participant",
    "session",
    "stimulus_set",
    "stimulus_digest",
    "completed",
    "n_trials_planned",
    "n_trials_done",
)


@dataclass
class LoadedData:
    """Trials and their context, as returned by both loaders.

    Attributes
    ----------
    trials : pandas.DataFrame
        One row per trial with the canonical columns.
    sessions : pandas.DataFrame
        One row per session (file, completion, counts, practice and catch accuracy, missed responses).
    metamers : pandas.DataFrame or None
        One row per metamer of the store (session entry only).
    similarities : pandas.DataFrame or None
        Long table ``metamer_id, scoring_model, layer, view, cosine, rel_l2`` (session entry only).
    source : dict
        Where the data came from (kind, paths, digest, column mapping).
    condition_cols : list of str
        Columns whose combination forms ``condition``.
    """

    trials: pd.DataFrame
    sessions: pd.DataFrame
    metamers: pd.DataFrame | None = None
    similarities: pd.DataFrame | None = None
    source: dict[str, Any] = field(default_factory=dict)
    condition_cols: list[str] = field(default_factory=list)

    @property
    def analysed(self) -> pd.DataFrame:
        """The trials that enter the analyses (main blocks, no catch or noise-floor trials)."""
        return self.trials[self.trials["analysed"]]

    @property
    def has_distance(self) -> bool:
        """Whether a numeric model distance is available per trial."""
        return "distance" in self.trials and bool(self.trials["distance"].notna().any())


def find_sessions(data_dir: str | os.PathLike[str]) -> list[tuple[Path, Path]]:
    """Pairs ``(trials_csv, sidecar_json)`` of every session under ``data_dir`` (recursive, sorted).

    Examples
    --------
    >>> find_sessions("/nonexistent")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: /nonexistent: data folder does not exist
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise MRDError(f"{root}: data folder does not exist")
    pairs = []
    for csv in sorted(root.rglob("sub-*_ses-*_trials.csv")):
        sidecar = csv.with_name(csv.name[: -len("_trials.csv")] + "_session.json")
        if not sidecar.exists():
            raise MRDError(
                f"{csv}: its session sidecar {sidecar.name} is missing; every session needs both files"
            )
        pairs.append((csv, sidecar))
    if not pairs:
        raise MRDError(f"{root}: no session files (sub-<participant>_ses-<session>_trials.csv) found")
    return pairs


def _read_sidecar(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MRDError(f"{path}: not a readable session sidecar ({exc})") from exc
    missing = [k for k in SIDECAR_KEYS if k not in info]
    if missing:
        raise MRDError(
            f"{path}: sidecar keys missing: {', '.join(missing)}; expected {', '.join(SIDECAR_KEYS)}"
        )
    return info


def show(value: Any) -> str:
    """A cell value for a message: text quoted, numbers plain (``inf``, ``2``, ``'yes'``).

    Examples
    --------
    >>> show(np.float64("inf")), show("yes"), show(np.int64(2))
    ('inf', "'yes'", '2')
    """
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def _binary(values: pd.Series, path: Path | str, column: str) -> np.ndarray:
    num = pd.to_numeric(values, errors="coerce")
    bad = ~num.isin([0, 1])
    if bad.any():
        first = values[bad].iloc[0]
        raise MRDError(
            f"{path}: column '{column}' has value {show(first)} (row {int(np.flatnonzero(bad)[0]) + 2}); "
            "expected 0 or 1"
        )
    return num.to_numpy(dtype=int)


def read_session(
    csv: Path, sidecar: Path, digest: str | None = None, store: str | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read one session's trials and sidecar; refuse it if its stimulus digest is foreign.

    Parameters
    ----------
    csv, sidecar : pathlib.Path
        The session's trials CSV and its ``_session.json``.
    digest : str, optional
        The stimulus set's content digest; a different ``stimulus_digest`` raises :class:`MRDError`.
    store : str, optional
        Store path, for the message.

    Returns
    -------
    trials : pandas.DataFrame
    info : dict
        The sidecar.
    """
    info = _read_sidecar(sidecar)
    if digest is not None and info["stimulus_digest"] != digest:
        raise MRDError(
            f"{csv}: session recorded stimulus_digest {str(info['stimulus_digest'])[:16]}... "
            f"(in {sidecar.name}) "
            f"but the stimulus set {store} has digest {digest[:16]}...; this participant saw other stimuli. "
            f"Analyse it with the set it names ({info.get('stimulus_set')}) or move it out of the data folder"
        )
    try:
        df = pd.read_csv(
            csv,
            dtype={"participant": str, "session": str, "metamer_id": str, "response_key": str},
            keep_default_na=True,
        )
    except pd.errors.EmptyDataError:
        raise MRDError(f"{csv}: is empty; a session's trials CSV has a header row") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise MRDError(f"{csv}: not a readable trials CSV ({exc})") from exc
    missing = [c for c in REQUIRED_TRIAL_COLUMNS if c not in df.columns]
    if missing:
        raise MRDError(
            f"{csv}: columns missing: {', '.join(missing)}; a trials CSV needs "
            f"{', '.join(REQUIRED_TRIAL_COLUMNS)}"
        )
    check_ids(csv, sidecar, info, df)
    df["correct"] = _binary(df["correct"], csv, "correct")
    df["is_catch"] = _binary(df["is_catch"], csv, "is_catch").astype(bool)
    bad = ~df["block_type"].isin(["practice", "main"])
    if bad.any():
        raise MRDError(
            f"{csv}: column 'block_type' has value {df['block_type'][bad].iloc[0]!r}; "
            "expected 'practice' or 'main'"
        )
    df["responded"] = df["response_position"].notna()
    df["session_file"] = csv.name
    return df, info


def _metamer_tables(s: StimulusSet) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    rows, sims, cos = [], [], {}
    for xid in s.metamer_ids:
        rec = s.metamer(xid, images=False)
        g = rec.similarity[rec.model_id]
        row = {
            "metamer_id": xid,
            "scene_id": rec.scene_id,
            "model_id": rec.model_id,
            "group": rec.group,
            "success": rec.success,
            "converged": rec.converged,
            "similarity": float(np.mean(g.cosine)),
            "null_max_cosine": g.null_max_cosine,
        }
        row.update({f"phys_{k}": float(v) for k, v in rec.physical_distance.items()})
        cos[xid] = {}
        for mid, sim in rec.similarity.items():
            c = np.asarray(sim.cosine, dtype=float)
            cos[xid][mid] = c
            row[f"sim:{mid}"] = float(c.mean())
            for li, layer in enumerate(sim.layers):
                row[f"sim:{mid}:{layer}"] = float(c[:, li].mean())
                for v in range(c.shape[0]):
                    sims.append((xid, mid, layer, v, c[v, li], float(np.asarray(sim.rel_l2)[v, li])))
        rows.append(row)
    for pid in s.probe_ids:  # probe units (mrd probe) as items: similarity = 1 - display-render distance
        rec = s.probe(pid, images=False)
        views = len(s.scene(rec.scene_id, images=False).views)
        row = {"metamer_id": pid, "scene_id": rec.scene_id, "model_id": rec.model_id, "group": rec.group,
               "success": True, "converged": True, "null_max_cosine": float("nan"),
               "similarity": 1.0 - rec.distances.get(rec.model_id, float("nan"))}  # fmt: skip
        cos[pid] = {mid: np.full((views, 1), 1.0 - d) for mid, d in rec.distances.items()}
        row.update({f"sim:{mid}": 1.0 - d for mid, d in rec.distances.items()})
        rows.append(row)
    metamers = pd.DataFrame(rows)
    if len(metamers):
        metamers["distance"] = 1.0 - metamers["similarity"]
    sim_df = pd.DataFrame(sims, columns=["metamer_id", "scoring_model", "layer", "view", "cosine", "rel_l2"])
    return metamers, sim_df, cos


def load_sessions(
    data_dir: str | os.PathLike[str],
    stimuli: str | os.PathLike[str],
    similarity_model: str | None = None,
) -> LoadedData:
    """Load all sessions under ``data_dir`` and join them with the stimulus set.

    Parameters
    ----------
    data_dir : path-like
        Folder with ``sub-*_ses-*_trials.csv`` and ``_session.json`` files (searched recursively).
    stimuli : path-like
        The stimulus set (HDF5) the sessions were run with.
    similarity_model : str, optional
        Model whose similarity defines ``similarity`` and ``distance`` per trial; by default each
        metamer's generating model. Per-trial similarity is the layer-averaged cosine at the view shown.

    Returns
    -------
    LoadedData

    Raises
    ------
    stimuli.errors.MRDError
        A session with a foreign stimulus digest, a missing sidecar, an unknown metamer id, bad columns.
    """
    pairs = find_sessions(data_dir)
    with StimulusSet(stimuli) as s:
        digest, checks = verify_store(s)
        metamers, sim_df, cos = _metamer_tables(s)
        models = list(s.models)
    if similarity_model is not None and similarity_model not in models:
        raise MRDError(
            f"{stimuli}: similarity model {similarity_model!r} is not in the store; "
            f"models: {', '.join(models)}"
        )
    frames, infos = [], []
    for csv, sidecar in pairs:
        df, info = read_session(csv, sidecar, digest=digest, store=str(stimuli))
        frames.append(df)
        infos.append((csv, info, df))
    trials = pd.concat(frames, ignore_index=True)
    known = set(metamers["metamer_id"]) if len(metamers) else set()
    catch = trials["metamer_id"].str.startswith("catch:") | trials["is_catch"]
    noise = trials["metamer_id"].str.startswith(
        "noise:"
    )  # noise-floor control: odd item = another target render
    unknown = trials.loc[~catch & ~noise & ~trials["metamer_id"].isin(known)]
    if len(unknown):
        r = unknown.iloc[0]
        raise MRDError(
            f"{r['session_file']}: metamer_id {r['metamer_id']!r} (trial {r['trial']}) is not in {stimuli}"
        )
    trials["is_catch"] = catch
    trials["is_noise_floor"] = noise
    recorded = {c: trials.pop(c) for c in ("scene_id", "model_id", "group") if c in trials.columns}
    trials = trials.merge(metamers.drop(columns=["similarity", "distance"]), on="metamer_id", how="left")
    _check_recorded(trials, recorded, stimuli)
    trials["similarity"] = _trial_similarity(trials, cos, similarity_model)
    trials["distance"] = 1.0 - trials["similarity"]
    trials["item"] = trials["metamer_id"]
    trials["condition"] = trials["group"].astype(str) + " / " + trials["model_id"].astype(str)
    trials["analysed"] = (trials["block_type"] == "main") & ~trials["is_catch"] & ~trials["is_noise_floor"]
    sessions = _session_table(infos)
    source = {
        "kind": "sessions",
        "data_dir": str(data_dir),
        "stimuli": str(stimuli),
        "digest": digest,
        **checks,
        "similarity_model": similarity_model or "generating model of each metamer",
    }
    return LoadedData(trials, sessions, metamers, sim_df, source, ["group", "model_id"])


def _check_recorded(
    trials: pd.DataFrame, recorded: dict[str, pd.Series], stimuli: str | os.PathLike[str]
) -> None:
    """Check the CSV's scene/model/group against the store; keep the CSV's values for catch trials."""
    for col, values in recorded.items():
        csv_vals = values.fillna("").astype(str)
        store_vals = trials[col]
        own = trials["is_catch"] | trials.get("is_noise_floor", False)  # rows not about a stored metamer
        bad = ~own & (csv_vals != "") & (csv_vals != store_vals.astype(str))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise MRDError(
                f"{trials['session_file'].iat[i]}: trial {trials['trial'].iat[i]} records {col} "
                f"{csv_vals.iat[i]!r} for metamer {trials['metamer_id'].iat[i]!r}, but {stimuli} has "
                f"{store_vals.iat[i]!r}; the session does not belong to this stimulus set"
            )
        trials[col] = store_vals.where(~own, csv_vals.replace("", np.nan))


def _trial_similarity(
    trials: pd.DataFrame, cos: dict[str, dict[str, np.ndarray]], model: str | None
) -> np.ndarray:
    out = np.full(len(trials), np.nan)
    views = pd.to_numeric(trials["view"], errors="coerce").to_numpy()
    for i, (xid, gen, view) in enumerate(zip(trials["metamer_id"], trials["model_id"], views, strict=True)):
        if xid not in cos:
            continue
        mid = model or gen
        if mid not in cos[xid]:
            raise MRDError(
                f"metamer {xid!r} has no similarity under model {mid!r}; run `mrd score` for it first"
            )
        c = cos[xid][mid]
        if np.isnan(view):
            out[i] = c.mean()
        elif not 0 <= view < c.shape[0]:
            raise MRDError(
                f"{trials['session_file'].iat[i]}: trial {trials['trial'].iat[i]} shows view {view:g} "
                f"of metamer {xid!r}, which has views 0..{c.shape[0] - 1}"
            )
        else:
            out[i] = c[int(view)].mean()
    return out


def _session_table(infos: list[tuple[Path, dict[str, Any], pd.DataFrame]]) -> pd.DataFrame:
    rows = []
    for csv, info, df in infos:
        main = df[df["block_type"] == "main"]
        catch = main[main["metamer_id"].str.startswith("catch:") | main["is_catch"]]
        practice = df[df["block_type"] == "practice"]
        rows.append(
            {
                "session_file": csv.name,
                "participant": str(info["participant"]),
                "session": str(info["session"]),
                "observer": info.get("observer", ""),
                "completed": bool(info["completed"]),
                "n_trials_planned": info["n_trials_planned"],
                "n_trials_done": info["n_trials_done"],
                "n_rows": len(df),
                "n_main": len(main) - len(catch),
                "n_practice": len(practice),
                "n_catch": len(catch),
                "practice_pc": practice["correct"].mean() if len(practice) else np.nan,
                "catch_pc": catch["correct"].mean() if len(catch) else np.nan,
                "missed": int((~df["responded"]).sum()),
                "started": info.get("started", ""),
                "frame_rate_hz": info.get("frame_rate_hz", np.nan),
            }
        )
    return pd.DataFrame(rows)
