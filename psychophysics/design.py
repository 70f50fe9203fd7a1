"""Trial design for the oddity task (pure Python: no PsychoPy, no store access of its own).

A *cell* is one (metamer, view, odd item) combination. ``odd_item = "metamer"`` shows the metamer
among two copies of its target; ``odd_item = "target"`` shows the target among two copies of the
metamer; both are used by default (counterbalanced). Each cell is repeated ``design.repeats`` times.
The odd position (1..3) is balanced within each odd-item type: every position occurs
``n // 3`` or ``n // 3 + 1`` times, the extra ones drawn at random. Main trials are shuffled (with
consecutive trials of the same metamer broken up where possible) and cut into blocks of
``design.break_every`` trials, numbered 1, 2, ...; the practice block is block 0.

Practice trials use the easiest metamers (lowest similarity to their target under the generating
model), cycling over their cells, or, with ``practice_source = "own"``, only the listed practice
metamers (which are then excluded from the main blocks). Catch trials show an unrelated image as
the odd item: the target of another scene (``metamer_id = "catch:<other scene id>"``), or the colour
negative of the target when the set has a single scene (``"catch:_inverted"``); for them
``odd_item`` is ``"metamer"`` (the non-target image), ``model_id`` is empty and ``group`` is
``"catch"``.

The sequence is seeded from the config seed, the participant id and the session number
(:func:`session_seed`), so the same inputs always give the same plan; the plan is also saved with
the session (:mod:`psychophysics.datafile`).

Examples
--------
>>> from psychophysics.config import Design
>>> items = [Item("m0", "s0", "net", "material", 2, True, 0.9),
...          Item("m1", "s0", "net", "shape", 2, True, 0.5)]
>>> plan = build_plan(items, {"s0": 2}, Design(practice_trials=4, break_every=4), "P01", 1)
>>> len(plan), plan[0].block_type, plan[-1].block
(12, 'practice', 2)
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

from psychophysics.config import Design
from stimuli.errors import MRDError


@dataclass(frozen=True)
class Item:
    """A metamer as the design sees it.

    Parameters
    ----------
    metamer_id, scene_id, model_id, group : str
        Ids and the varied parameter group.
    n_views : int
        Number of rendered views.
    success : bool
        The store's success flag.
    similarity : float
        Mean cosine similarity to the target under the generating model (higher = harder).
    """

    metamer_id: str
    scene_id: str
    model_id: str
    group: str
    n_views: int
    success: bool
    similarity: float


@dataclass(frozen=True)
class Trial:
    """One planned trial: the planned part of a CSV row (see :mod:`~psychophysics.datafile`)."""

    block: int
    block_type: str
    trial: int
    trial_in_block: int
    metamer_id: str
    scene_id: str
    model_id: str
    group: str
    view: int
    odd_item: str
    odd_position: int
    is_catch: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trial:
        """Inverse of :meth:`to_dict` (extra keys are ignored)."""
        return cls(**{f.name: data[f.name] for f in fields(cls)})


class _StoreLike(Protocol):
    metamer_ids: list[str]
    scene_ids: list[str]

    def metamer(self, metamer_id: str, images: bool = ...) -> Any: ...  # noqa: D102

    def scene(self, scene_id: str, images: bool = ...) -> Any: ...  # noqa: D102


def items_from_store(store: _StoreLike) -> tuple[list[Item], dict[str, int]]:
    """Read the design's view of a stimulus set.

    Parameters
    ----------
    store : stimuli.StimulusSet
        An open stimulus set.

    Returns
    -------
    items : list of Item
        One per metamer, in the store's order.
    scene_views : dict of str to int
        Number of views of every scene.
    """
    scene_views = {sid: len(store.scene(sid, images=False).views) for sid in store.scene_ids}
    items = []
    for xid in store.metamer_ids:
        rec = store.metamer(xid, images=False)
        sim = rec.similarity.get(rec.model_id)
        mean_cos = sim.mean_cosine if sim is not None else math.nan
        items.append(
            Item(
                xid,
                rec.scene_id,
                rec.model_id,
                rec.group,
                scene_views[rec.scene_id],
                bool(rec.success),
                mean_cos,
            )
        )
    return items, scene_views


def session_seed(base: int, participant: str, session: int) -> int:
    """A 63-bit seed from the config seed, participant id and session (stable across processes).

    Examples
    --------
    >>> session_seed(0, "P01", 1) == session_seed(0, "P01", 1) != session_seed(0, "P01", 2)
    True
    """
    digest = hashlib.sha256(f"{base}|{participant}|{session}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _select(items: list[Item], design: Design) -> list[Item]:
    chosen = [
        it
        for it in items
        if (not design.models or it.model_id in design.models)
        and (not design.groups or it.group in design.groups)
        and (it.success or not design.only_successful)
    ]
    return chosen


def _cells(items: list[Item], design: Design, where: str) -> list[tuple[Item, int, str]]:
    cells = []
    for it in items:
        views = design.views or list(range(it.n_views))
        for v in views:
            if v >= it.n_views:
                raise MRDError(
                    f"design.views: view {v} does not exist for metamer '{it.metamer_id}' "
                    f"({where}), which has views 0..{it.n_views - 1}"
                )
            for odd in design.odd_items:
                cells.append((it, v, odd))
    return cells


def _balanced_positions(n: int, rng: random.Random) -> list[int]:
    positions = [1, 2, 3] * (n // 3) + rng.sample([1, 2, 3], n % 3)
    rng.shuffle(positions)
    return positions


def _spread_repeats(rows: list[dict[str, Any]], rng: random.Random) -> None:
    """Shuffle, then break up runs of the same metamer by swapping with a later row."""
    rng.shuffle(rows)
    for i in range(1, len(rows)):
        if rows[i]["metamer_id"] != rows[i - 1]["metamer_id"]:
            continue
        for j in range(i + 1, len(rows)):
            ok_here = rows[j]["metamer_id"] != rows[i - 1]["metamer_id"]
            ok_there = rows[i]["metamer_id"] != rows[j - 1]["metamer_id"] and (
                j + 1 == len(rows) or rows[i]["metamer_id"] != rows[j + 1]["metamer_id"]
            )
            if ok_here and ok_there:
                rows[i], rows[j] = rows[j], rows[i]
                break


def _rows_from_cells(cells: list[tuple[Item, int, str]], rng: random.Random) -> list[dict[str, Any]]:
    rows = [
        dict(
            metamer_id=it.metamer_id,
            scene_id=it.scene_id,
            model_id=it.model_id,
            group=it.group,
            view=v,
            odd_item=odd,
            is_catch=0,
        )
        for it, v, odd in cells
    ]
    for odd in ("metamer", "target"):
        same = [r for r in rows if r["odd_item"] == odd]
        for r, p in zip(same, _balanced_positions(len(same), rng), strict=True):
            r["odd_position"] = p
    return rows


def _catch_rows(
    cells: list[tuple[Item, int, str]], scene_views: dict[str, int], n: int, rng: random.Random
) -> list[dict[str, Any]]:
    rows = []
    for p in _balanced_positions(n, rng):
        it, v, _ = rng.choice(cells)
        others = sorted(s for s in scene_views if s != it.scene_id)
        foreign = f"catch:{rng.choice(others)}" if others else "catch:_inverted"
        rows.append(
            dict(
                metamer_id=foreign,
                scene_id=it.scene_id,
                model_id="",
                group="catch",
                view=v,
                odd_item="metamer",
                is_catch=1,
                odd_position=p,
            )
        )
    return rows


def build_plan(
    items: list[Item], scene_views: dict[str, int], design: Design, participant: str, session: int
) -> list[Trial]:
    """Plan a session: practice block (block 0) then main blocks.

    Parameters
    ----------
    items : list of Item
        All metamers of the stimulus set (see :func:`items_from_store`).
    scene_views : dict of str to int
        Views per scene (catch trials draw unrelated scenes from it).
    design : Design
        The ``[design]`` table of the experiment config.
    participant : str
        Participant id (part of the seed).
    session : int
        Session number (part of the seed).

    Returns
    -------
    list of Trial
        In presentation order; ``trial`` runs 1..N over the whole session.

    Raises
    ------
    MRDError
        If the selection leaves no metamers, or names unknown practice metamers or views.
    """
    rng = random.Random(session_seed(design.seed, participant, session))
    known = {it.metamer_id: it for it in items}
    main_items = _select(items, design)
    practice_items: list[Item] = []
    if design.practice_trials:
        if design.practice_source == "own":
            missing = [m for m in design.practice_metamers if m not in known]
            if missing:
                raise MRDError(
                    f"design.practice_metamers: {missing} not in the stimulus set "
                    f"(it has {sorted(known)[:10]}...)"
                )
            practice_items = [known[m] for m in design.practice_metamers]
            main_items = [it for it in main_items if it.metamer_id not in design.practice_metamers]
        else:
            ranked = sorted(main_items or items, key=lambda it: (_nan_last(it.similarity), it.metamer_id))
            practice_items = ranked
    if not main_items:
        raise MRDError(
            f"design selects no metamers (models={design.models}, groups={design.groups}, "
            f"only_successful={design.only_successful}); the stimulus set has {len(items)}"
        )

    main_cells = _cells(main_items, design, "main") * design.repeats
    rows = _rows_from_cells(main_cells, rng)
    rows += _catch_rows(_cells(main_items, design, "catch"), scene_views, design.catch_trials, rng)
    _spread_repeats(rows, rng)

    practice_rows: list[dict[str, Any]] = []
    if design.practice_trials:
        pcells = _cells(practice_items, design, "practice")  # easiest first
        picked = [pcells[i % len(pcells)] for i in range(design.practice_trials)]
        practice_rows = _rows_from_cells(picked, rng)
        rng.shuffle(practice_rows)

    size = design.break_every or len(rows)
    trials: list[Trial] = []
    for i, r in enumerate(practice_rows):
        trials.append(Trial(block=0, block_type="practice", trial=len(trials) + 1, trial_in_block=i + 1, **r))
    for i, r in enumerate(rows):
        trials.append(
            Trial(
                block=i // size + 1,
                block_type="main",
                trial=len(trials) + 1,
                trial_in_block=i % size + 1,
                **r,
            )
        )
    return trials


def _nan_last(x: float) -> float:
    return math.inf if math.isnan(x) else x
