"""Summaries of a stimulus set for ``mrd inspect`` (as a dict for JSON, or as text).

Examples
--------
>>> import tempfile, os
>>> from stimuli.writer import StoreWriter
>>> path = os.path.join(tempfile.mkdtemp(), "set.h5")
>>> StoreWriter(path, config_text="x = 1").close()
>>> summarize(path)["n_metamers"]
0
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from stimuli import h5io
from stimuli.reader import StimulusSet


def _safe(what: str, errors: list[str], fn: Callable[[], Any], default: Any = None) -> Any:
    try:
        return fn()
    except Exception as exc:  # a damaged part is shown, never a traceback
        errors.append(f"{what}: cannot be read ({type(exc).__name__}: {exc})")
        return default


def _root_attr(f: Any, name: str) -> Any:
    if name not in f.attrs:
        return None
    v = f.attrs[name]
    v = v.item() if isinstance(v, np.generic) else v
    return v if isinstance(v, str | int | float | bool) else str(v)[:200]


def user_module_note(models: list[dict[str, Any]]) -> str | None:
    """A note naming models that are user code (``package.module:factory``), or ``None``.

    Reading a set never imports them; generating or scoring with their config runs them.

    Examples
    --------
    >>> user_module_note([{"id": "m", "name": "mypkg.nets:build", "source": "module"}])[:40]
    "model 'm' is user code (mypkg.nets:build"
    """
    users = [m for m in models if m.get("source") == "module" or ":" in str(m.get("name", ""))]
    if not users:
        return None
    names = ", ".join(f"{m['id']!r} is user code ({m['name']})" for m in users)
    return (
        f"model {names}. Reading this set (inspect, export, experiment, analyze) never imports it; "
        "`mrd generate` or `mrd score` with a config naming it runs that module's code, like a script"
    )


def summarize(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe a store: provenance, models, scenes, metamers with success and similarities.

    Never imports code named in the store and never reads the stored config text (which may be
    large); a part that cannot be read is listed under ``"errors"`` instead of raising, and a field
    too long to show (a store made by another tool) is cut short with a note under ``"truncated"``
    (:func:`bounded`).

    Parameters
    ----------
    path : path-like
        The store file.

    Returns
    -------
    dict
        JSON-serialisable summary.
    """
    errors: list[str] = []
    with StimulusSet(path, allow_pending=True) as s:
        f = s._f
        root = {k: _safe(f"root attribute {k!r}", errors, lambda k=k: _root_attr(f, k))
                for k in ("created", "suite_version", "config_sha256", "content_digest")}
        models = []
        for mid in _safe("/models", errors, lambda: sorted(f["models"]), []):
            m = _safe(f"/models/{mid}", errors, lambda mid=mid: h5io.read_model(f["models"][mid]))
            if m is not None:
                models.append({"id": m.model_id, "name": m.name, "source": m.source, "weight_sha256": m.weight_sha256,
                               "layers": m.layers, "input_size": list(m.input_size)})
        scenes = []
        for sid in _safe("/scenes", errors, lambda: s.scene_ids, []):
            shape = _safe(f"/scenes/{sid}/display", errors, lambda sid=sid: f["scenes"][sid]["display"].shape)
            if shape is not None and len(shape) == 4:
                scenes.append({"id": sid, "views": int(shape[0]), "height": int(shape[1]), "width": int(shape[2]),
                               "renders": _safe(f"/scenes/{sid}/renders", errors,
                                                lambda sid=sid: s.n_renders("scene", sid), 0)})
        metamers = []
        for xid in _safe("/metamers", errors, lambda: s.metamer_ids, []):
            row = _safe(f"/metamers/{xid}", errors, lambda xid=xid: _metamer_row(s, xid))
            if row is not None:
                metamers.append(row)
        pending = s.pending
        truncated: list[str] = []
        summary = {
            "path": str(Path(path)),
            "schema_version": s.schema_version,
            "created": root["created"],
            "suite_version": root["suite_version"],
            "config_sha256": root["config_sha256"],
            "content_digest": str(root["content_digest"]),
            "models": models,
            "user_modules": user_module_note(models),
            "scenes": scenes,
            "n_metamers": len(metamers),
            "n_success": sum(bool(m["success"]) for m in metamers),
            "metamers": metamers,
            "pending_journal_units": pending,
            "errors": errors,
        }
        summary = bounded(summary, "", truncated)
        summary["truncated"] = truncated
        return summary


MAX_SHOWN_CHARS = 2000
"""Longest text :func:`summarize` shows of one field (a store made by another tool may hold more)."""
MAX_SHOWN_ITEMS = 1000
"""Most entries :func:`summarize` shows of one list or mapping field."""


def bounded(value: Any, where: str, notes: list[str]) -> Any:
    """``value`` with every text over :data:`MAX_SHOWN_CHARS` and every list or mapping over
    :data:`MAX_SHOWN_ITEMS` entries cut short, and a note per cut field appended to ``notes``.

    Parameters
    ----------
    value : object
        A JSON-like value (dicts, lists, strings, numbers).
    where : str
        Its name in the summary (used in the notes).
    notes : list of str
        Receives one note per truncated field.

    Returns
    -------
    object
        The bounded value.

    Examples
    --------
    >>> notes = []
    >>> out = bounded({"models": [{"name": "n" * 5000}]}, "", notes)
    >>> len(out["models"][0]["name"]) < 300, notes
    (True, ['models[0].name: 5000 characters, shown truncated to 200'])
    """
    if isinstance(value, str):
        if len(value) <= MAX_SHOWN_CHARS:
            return value
        notes.append(f"{where}: {len(value)} characters, shown truncated to 200")
        return value[:200] + f"... [{len(value)} characters]"
    if isinstance(value, dict):
        items = list(value.items())
        if len(items) > MAX_SHOWN_ITEMS:
            notes.append(f"{where}: {len(items)} entries, the first {MAX_SHOWN_ITEMS} shown")
        return {str(k)[:200]: bounded(v, f"{where}.{k}" if where else str(k), notes)
                for k, v in items[:MAX_SHOWN_ITEMS]}  # fmt: skip
    if isinstance(value, list | tuple):
        if len(value) > MAX_SHOWN_ITEMS:
            notes.append(f"{where}: {len(value)} entries, the first {MAX_SHOWN_ITEMS} shown")
        return [bounded(v, f"{where}[{i}]", notes) for i, v in enumerate(value[:MAX_SHOWN_ITEMS])]
    return value


def _metamer_row(s: StimulusSet, xid: str) -> dict[str, Any]:
    m = s.metamer(xid, images=False)
    return {
        "id": xid, "scene": m.scene_id, "model": m.model_id, "group": m.group, "seed": m.seed,
        "success": m.success, "converged": m.converged, "steps": m.steps,
        "wall_time_s": round(m.wall_time_s, 3),
        "renders": s.n_renders("metamer", xid),
        "criterion": m.criterion,
        "similarity": {
            mid: {"cosine": round(sim.mean_cosine, 6), "rel_l2": round(float(np.mean(sim.rel_l2)), 6),
                  "null_max_cosine": round(sim.null_max_cosine, 6),
                  **({"top1": sim.classification["top1"], "top5": sim.classification["top5"]}
                     if sim.classification else {})}
            for mid, sim in m.similarity.items()
        },
        "physical_distance": m.physical_distance,
        **_attempts(m.info),
    }


def _attempts(info: dict[str, Any]) -> dict[str, Any]:
    """``attempts`` and ``kept_attempt`` of a metamer made with restarts (``[optimize] restarts``), else nothing.

    Examples
    --------
    >>> _attempts({"attempts": [{"attempt": 0}, {"attempt": 1}], "kept_attempt": 1}), _attempts({})
    ({'attempts': 2, 'kept_attempt': 1}, {})
    """
    tries = info.get("attempts") if isinstance(info, dict) else None
    if not isinstance(tries, list) or not tries:
        return {}
    return {"attempts": len(tries), "kept_attempt": info.get("kept_attempt")}


def format_summary(summary: dict[str, Any]) -> str:
    """Render :func:`summarize`'s output as readable text.

    Examples
    --------
    >>> print(format_summary({"path": "x.h5", "schema_version": "1.0", "created": "t", "suite_version": "0",
    ...     "content_digest": "ab" * 32, "models": [], "scenes": [], "metamers": [], "n_metamers": 0,
    ...     "n_success": 0, "pending_journal_units": 0}).splitlines()[0])
    Stimulus set x.h5 (schema 1.0, created t, suite 0)
    """
    s = summary
    lines = [
        f"Stimulus set {s['path']} (schema {s['schema_version']}, created {s['created']}, suite {s['suite_version']})",
        f"  content digest  {s['content_digest']}",
        f"  models ({len(s['models'])}):",
    ]
    for m in s["models"]:
        sha = m["weight_sha256"][:12] or "-"
        lines.append(f"    {m['id']:<24} {m['name']} [{m['source']}, sha256 {sha}] layers: {', '.join(m['layers'])}")
    lines.append(f"  scenes ({len(s['scenes'])}):")
    for sc in s["scenes"]:
        lines.append(f"    {sc['id']:<24} {sc['views']} views, {sc['width']}x{sc['height']} px")
    lines.append(f"  metamers ({s['n_metamers']}, {s['n_success']} successful):")
    wid = max([len(m["id"]) for m in s["metamers"]] + [2])
    wsc = max([len(m["scene"]) for m in s["metamers"]] + [5])
    wmo = max([len(m["model"]) for m in s["metamers"]] + [5])
    if s["metamers"]:
        lines.append(f"    {'id':<{wid}} {'scene':<{wsc}} {'model':<{wmo}} {'group':<9} {'ok':<3} {'cosine':>8} {'null max':>8}")
    for m in s["metamers"]:
        own = m["similarity"].get(m["model"], {})
        lines.append(
            f"    {m['id']:<{wid}} {m['scene']:<{wsc}} {m['model']:<{wmo}} {m['group']:<9} "
            f"{'yes' if m['success'] else 'no':<3} {own.get('cosine', float('nan')):>8.4f} "
            f"{own.get('null_max_cosine', float('nan')):>8.4f}"
        )
        for mid, sim in m["similarity"].items():
            agree = f", top-1/top-5 class agreement {sim['top1']:.2f}/{sim['top5']:.2f}" if "top1" in sim else ""
            if mid != m["model"]:
                lines.append(f"      scored by {mid}: cosine {sim['cosine']:.4f} (null max {sim['null_max_cosine']:.4f}){agree}")
            elif agree:
                lines.append(f"      {agree[2:]}")
        if m.get("attempts"):
            lines.append(f"      {m['attempts']} attempts (restarts), attempt {m['kept_attempt']} kept")
    for note in s.get("truncated", []):
        lines.append(f"  note: {note}")
    if s.get("user_modules"):
        lines.append(f"  note: {s['user_modules']}")
    for err in s.get("errors", []):
        lines.append(f"  damaged: {err}")
    if s.get("errors"):
        lines.append(f"  `mrd inspect {s['path']} --validate` lists every problem")
    if s["pending_journal_units"]:
        lines.append(
            f"  note: {s['pending_journal_units']} finished units wait in the journal and are not shown: this is "
            f"the set as of its last pack. Let the writer finish, or run `mrd pack {s['path']}`"
        )
    return "\n".join(lines)
