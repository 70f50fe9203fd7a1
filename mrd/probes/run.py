"""``mrd probe eigen|mad CONFIG --out SET.h5``: run a probe config into a stimulus set.

Loads the config (:mod:`mrd.probes.config`), the models and the target scenes, runs every
(scene, group, model) eigendistortion block or every (scene, group, pair) MAD block, and adds the
models, scenes and probe units to the store through :class:`stimuli.StoreWriter` (crash-safe,
O(unit) per write). A block whose first probe is already stored is skipped, so re-running resumes.

Examples
--------
>>> ProbeSummary(kind="eigen", out=None).added
[]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stimuli.errors import MRDError

KINDS = ("eigen", "mad")


@dataclass
class ProbeSummary:
    """What a probe run did."""

    kind: str
    out: Path | None
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def _models(cfg: Any, device: Any) -> dict[str, Any]:
    from mrd.config.setconfig import model_key
    from mrd.models import load_model

    return {model_key(m): load_model(m, device) for m in cfg.models}


def run_probes(kind: str, config: str | Path, out: str | Path, *, variant: str | None = None,
               device: str | None = None, progress: bool = True) -> ProbeSummary:  # fmt: skip
    """Run ``[probe.<kind>]`` of a probe config into ``out`` (module docstring).

    Raises
    ------
    MRDError
        For an unknown kind, a config without the table, or any invalid value (naming file and field).
    """
    from tqdm import tqdm

    from mrd.probes.config import load_probe_config
    from mrd.render.variant import torch_device_for, use_variant
    from stimuli import StoreWriter
    from stimuli.probes_io import add_probe

    if kind not in KINDS:
        raise MRDError(f"probe kind {kind!r} is not one of {', '.join(KINDS)}")
    cfg, text = load_probe_config(config)
    table = getattr(cfg.probe, kind)
    if table is None:
        raise MRDError(f"{config}: has no [probe.{kind}] table; `mrd probe {kind}` needs one")
    chosen = use_variant(variant or cfg.variant)
    models = _models(cfg, torch_device_for(chosen, device))
    from mrd.synthesis.generate import check_out_path

    out = check_out_path(out)
    summary = ProbeSummary(kind, out)
    blocks = _blocks(cfg, kind)
    bar = tqdm(total=len(blocks), desc=f"probe {kind}", unit="block", disable=not progress, dynamic_ncols=True)
    with StoreWriter(out, config_text=text) as w:
        for mid, m in models.items():
            if not w.has_model(mid):
                w.add_model(m.record)
        targets: dict[str, Any] = {}
        for scene_id, group, who, first_id in blocks:
            if w.has_unit("probe", first_id):
                summary.skipped.append(first_id)
                bar.update(1)
                continue
            target = targets.get(scene_id) or targets.setdefault(scene_id, _target(cfg, scene_id, w))
            say = (lambda s: bar.write(f"  {s}")) if progress else summary.lines.append
            records = _run_block(cfg, kind, target, group, who, models, say)
            for rec in records:
                add_probe(w, rec)
                summary.added.append(rec.probe_id)
            bar.update(1)
    bar.close()
    return summary


def _target(cfg: Any, scene_id: str, writer: Any) -> Any:
    from mrd.probes.render import probe_target

    target = probe_target(cfg, scene_id)
    if target.record is not None and not writer.has_scene(scene_id):
        writer.add_scene(target.record)
    return target


def _blocks(cfg: Any, kind: str) -> list[tuple[str, str, Any, str]]:
    """``(scene, group, model id or pair, id of the block's first probe)`` of every block."""
    from mrd.probes.contest import mad_id, searches
    from mrd.probes.eigen import probe_id

    out = []
    table = getattr(cfg.probe, kind)
    for scene in cfg.scene_ids(table):
        for group in table.groups:
            if kind == "eigen":
                out += [(scene, group, mid, probe_id(scene, group, mid, "most", 0, 1, 1)) for mid in cfg.model_ids()]
            else:
                for a, b in table.pairs:
                    sa, sb, d = searches((a, b), table.swap, table.minimise)[0]
                    out.append((scene, group, (a, b), mad_id(scene, group, sa, sb, "max" if d > 0 else "min")))
    return out


def _run_block(cfg: Any, kind: str, target: Any, group: str, who: Any, models: dict[str, Any], say: Any) -> list[Any]:
    from mrd.probes.contest import mad_probes
    from mrd.probes.eigen import eigen_probes

    if kind == "eigen":
        _, records = eigen_probes(cfg, target, models[who], who, group, models, progress=say)
        return records
    return mad_probes(cfg, target, models, group, tuple(who), models, progress=say)
