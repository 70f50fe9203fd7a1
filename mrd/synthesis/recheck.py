"""An independent check of a stimulus set's success flags: fresh renders, the generating model as an
oddity observer, and fresh null draws.

The stored ``success`` is decided from the store's own renders. :func:`recheck` does not reuse them:
from the stored *parameters* it renders the target and every metamer again with new seeds
(``renders`` each, display spp), draws fresh null scenes from the prior, and lets the generating
model pick the odd item on ``triplets`` triplets per metamer (and per null draw). A successful
metamer should be picked on at most ``oddity_pc_max`` of its triplets; null draws far more often.

Examples
--------
>>> callable(recheck)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stimuli.errors import MRDError

RECHECK_SEED = 911
"""Seed offset of the fresh renders (distinct from every seed the generator uses)."""


@dataclass
class RecheckRow:
    """One metamer (or null draw) rechecked."""

    unit: str
    kind: str  # "metamer" or "null"
    stored_success: bool | None
    pc: float
    n: int
    ci_low: float
    ci_high: float
    distance_ratio: float
    pc_all: float | None = None
    se_renders: float | None = None

    @classmethod
    def of(cls, unit: str, kind: str, stored_success: bool | None, odd: Any) -> RecheckRow:
        """The row of a :class:`mrd.synthesis.oddity.Oddity`."""
        return cls(unit, kind, stored_success, odd.pc, odd.n, odd.ci_low, odd.ci_high, odd.distance_ratio,
                   odd.pc_exhaustive, odd.pc_se_renders)  # fmt: skip


@dataclass
class RecheckResult:
    rows: list[RecheckRow] = field(default_factory=list)

    def metamers(self, successful: bool | None = None) -> list[RecheckRow]:
        return [r for r in self.rows if r.kind == "metamer" and (successful is None or r.stored_success == successful)]

    def nulls(self) -> list[RecheckRow]:
        return [r for r in self.rows if r.kind == "null"]

    def table(self) -> str:
        lines = [f"{'unit':44} {'kind':7} {'stored':6} {'pc':>6} {'95% CI':>15} {'pc all':>6} {'se R':>6} {'ratio':>6}"]
        for r in self.rows:
            ok = "-" if r.stored_success is None else ("yes" if r.stored_success else "no")
            extra = " ".join("     -" if v is None else f"{v:6.3f}" for v in (r.pc_all, r.se_renders))
            lines.append(f"{r.unit:44} {r.kind:7} {ok:6} {r.pc:6.3f} [{r.ci_low:5.3f}, {r.ci_high:5.3f}] {extra} "
                         f"{r.distance_ratio:6.3f}")  # fmt: skip
        return "\n".join(lines)


def recheck(
    store: str | Path, *, triplets: int = 1000, renders: int = 16, nulls: int = 4, variant: str | None = None,
    progress: bool = False, seed: int = RECHECK_SEED,
) -> RecheckResult:  # fmt: skip
    """Recheck every metamer of a store on fresh renders (see the module docstring).

    Parameters
    ----------
    store : path-like
        A stimulus set made by ``mrd generate`` (its config text is parsed; models load from it).
    triplets : int
        Oddity triplets per metamer and per null draw.
    renders : int
        Fresh display renders of each target, metamer and null draw. The triplets share them, so
        they, not the triplets, bound the precision: a perfect metamer's proportion over all
        triplets has sd 0.062 at 6 renders per scene and 0.032 at 12 (``tests/mrd/test_criterion_se.py``);
        the default 16 keeps a recheck's own noise well under the 0.12 between chance and 0.45.
    nulls : int
        Fresh null draws per (scene, group).
    seed : int
        Seed base of the fresh renders, triplets and null draws: rechecks with different seeds are
        independent of each other (and of every render the generator made).

    Returns
    -------
    RecheckResult
        One row per metamer and null draw: the sampled proportion correct with its binomial
        interval, the proportion over every distinct triplet (``pc_all``), its render-level
        standard error (``se_renders``, :func:`mrd.synthesis.oddity.render_jackknife_se`) and the
        distance ratio.
    """
    from tqdm import tqdm

    from mrd.config import parse_config
    from mrd.groups import copy_params
    from mrd.render.variant import torch_device_for, use_variant
    from mrd.synthesis.criterion import model_oddity
    from mrd.synthesis.distances import render_features
    from mrd.synthesis.generate import Generator
    from mrd.synthesis.metamer import Metamer
    from mrd.synthesis.null import null_params
    from mrd.synthesis.seeds import Seeds, stable_seed
    from stimuli import StimulusSet

    with StimulusSet(store) as s:
        text = s.config_text
        ids = list(s.metamer_ids)
        records = {mid: s.metamer(mid, images=False) for mid in ids}
    cfg = parse_config(text, str(store), Path(store).resolve().parent)
    chosen = use_variant(variant or cfg.variant)
    gen = Generator(cfg, torch_device_for(chosen, None), progress=False)
    models = gen.load_models()
    out = RecheckResult()
    done_nulls: set[tuple[str, str, str]] = set()
    for mid in tqdm(ids, desc="recheck", unit="metamer", disable=not progress):
        rec = records[mid]
        if rec.model_id not in models:
            raise MRDError(f"{store}: metamer {mid}: its model {rec.model_id!r} is not in the stored config")
        target = gen.target(rec.scene_id)
        full = models[rec.model_id].record.layers
        layer = rec.layers[0] if len(rec.layers) == 1 and len(full) > 1 else None  # a per-layer metamer
        m = Metamer(target, models[rec.model_id], rec.group, cfg, model_id=rec.model_id, null_display=np.zeros((0,)),
                    layer=layer)  # fmt: skip
        m.seeds = Seeds(cfg.seed, rec.scene_id, rec.group, rec.model_id, rec.seed, layer)
        fresh = [stable_seed(seed, mid, "target", i) for i in range(renders)]
        t_feats = render_features(m.model, m.display_renders(copy_params(target.params), fresh))
        final = copy_params(target.params)
        final[rec.group] = rec.final_params[rec.group]
        m_feats = render_features(m.model, m.display_renders(final, [stable_seed(seed, mid, i) for i in range(renders)]))
        odd = model_oddity(t_feats, m_feats, triplets, np.random.default_rng(stable_seed(seed, mid)),
                           cfg.optimize.distance)  # fmt: skip
        out.rows.append(RecheckRow.of(mid, "metamer", bool(rec.success), odd))
        key = (rec.scene_id, rec.group, rec.model_id)
        if key in done_nulls:
            continue
        done_nulls.add(key)
        for k, p in enumerate(null_params(rec.group, cfg, target.params, nulls, stable_seed(seed, *key))):
            seeds = [stable_seed(seed, *key, k, i) for i in range(renders)]
            n_feats = render_features(m.model, m.display_renders(p, seeds))
            odd = model_oddity(t_feats, n_feats, triplets, np.random.default_rng(stable_seed(seed, *key, k)),
                               cfg.optimize.distance)  # fmt: skip
            out.rows.append(RecheckRow.of(f"{key[0]}.{key[1]}.{key[2]}.null{k}", "null", None, odd))
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m mrd.synthesis.recheck SET.h5 [--triplets N] [--renders R] [--seed S]``: print the table; exit 1
    when a metamer flagged successful is picked on more than 45 % of its fresh triplets."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m mrd.synthesis.recheck", description=__doc__.splitlines()[0])
    ap.add_argument("store")
    ap.add_argument("--triplets", type=int, default=1000)
    ap.add_argument("--renders", type=int, default=16)
    ap.add_argument("--nulls", type=int, default=4)
    ap.add_argument("--seed", type=int, default=RECHECK_SEED, help="seed base (another seed: an independent recheck)")
    a = ap.parse_args(argv)
    res = recheck(a.store, triplets=a.triplets, renders=a.renders, nulls=a.nulls, progress=True, seed=a.seed)
    print(res.table())
    bad = [r for r in res.metamers(successful=True) if r.pc > 0.45]
    ok = res.metamers(successful=True)
    print(f"successful metamers: {len(ok)}; picked on more than 45 % of fresh triplets: {len(bad)}; "
          f"null draws: median pc {np.median([r.pc for r in res.nulls()]) if res.nulls() else float('nan'):.3f}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
