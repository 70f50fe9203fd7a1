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
from pathlib import Path
from typing import Any

import numpy as np

from stimuli.reader import StimulusSet
from stimuli.writer import journal_dir


def summarize(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe a store: provenance, models, scenes, metamers with success and similarities.

    Parameters
    ----------
    path : path-like
        The store file.

    Returns
    -------
    dict
        JSON-serialisable summary.
    """
    with StimulusSet(path) as s:
        a = s.attrs
        models = [
            {"id": m.model_id, "name": m.name, "source": m.source, "weight_sha256": m.weight_sha256,
             "layers": m.layers, "input_size": list(m.input_size)}
            for m in s.models.values()
        ]
        scenes = []
        for sid in s.scene_ids:
            shape = s._f["scenes"][sid]["display"].shape
            scenes.append({"id": sid, "views": int(shape[0]), "height": int(shape[1]), "width": int(shape[2])})
        metamers = []
        for xid in s.metamer_ids:
            m = s.metamer(xid, images=False)
            metamers.append({
                "id": xid, "scene": m.scene_id, "model": m.model_id, "group": m.group, "seed": m.seed,
                "success": m.success, "converged": m.converged, "steps": m.steps,
                "wall_time_s": round(m.wall_time_s, 3),
                "similarity": {
                    mid: {"cosine": round(sim.mean_cosine, 6), "rel_l2": round(float(np.mean(sim.rel_l2)), 6),
                          "null_max_cosine": round(sim.null_max_cosine, 6)}
                    for mid, sim in m.similarity.items()
                },
                "physical_distance": m.physical_distance,
            })
        jdir = journal_dir(path)
        pending = len(list(jdir.glob("*.h5"))) if jdir.exists() else 0
        return {
            "path": str(Path(path)),
            "schema_version": s.schema_version,
            "created": a.get("created"),
            "suite_version": a.get("suite_version"),
            "config_sha256": a.get("config_sha256"),
            "content_digest": s.digest,
            "models": models,
            "scenes": scenes,
            "n_metamers": len(metamers),
            "n_success": sum(m["success"] for m in metamers),
            "metamers": metamers,
            "pending_journal_units": pending,
        }


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
            if mid != m["model"]:
                lines.append(f"      scored by {mid}: cosine {sim['cosine']:.4f} (null max {sim['null_max_cosine']:.4f})")
    if s["pending_journal_units"]:
        lines.append(
            f"  note: {s['pending_journal_units']} completed units wait in the journal; "
            "re-run the same `mrd generate` command to merge them"
        )
    return "\n".join(lines)
