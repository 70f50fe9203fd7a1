"""Trial design for the oddity task (pure Python: no PsychoPy, no store access of its own).

A *cell* is one (metamer, view, odd item) combination. ``odd_item = "metamer"`` shows the metamer
among two renders of its target; ``odd_item = "target"`` shows the target among two renders of the
metamer; both are used by default (counterbalanced). Each cell is repeated ``design.repeats`` times.
The odd position (1..3) is balanced within each trial type and odd item: every position occurs
``n // 3`` or ``n // 3 + 1`` times, the extra ones drawn at random. Main trials are shuffled (with
consecutive trials of the same metamer broken up where possible) and cut into blocks of
``design.break_every`` trials, numbered 1, 2, ...; the practice block is block 0.

**Independent renders.** The three images of a trial are three *different* display renders
(schema 1.1 ``renders``): two distinct renders of the scene shown twice and one of the other, with
pairwise different Monte Carlo seeds, so the only cue is the scene difference. ``render_1..3`` record
the render index shown at each position (at ``odd_position`` an index into the odd item's renders,
elsewhere into the other's). A store without renders (schema 1.0) gives empty render columns here;
:mod:`psychophysics.preparation` refuses it for a real session.

**Trial types** (``trial_type``): ``metamer`` (the above); ``noise_floor`` (``design.noise_floor_trials``
of them: three renders of the same target, the "odd" one is just another render, so every observer
is at chance; ``metamer_id = "noise:<scene id>"``, ``group = "noise_floor"``, ``odd_item = "target"``);
``catch`` (``design.catch_trials``: an unrelated image as the odd item, the target of another scene
``catch:<scene id>`` or, for a single-scene set, the colour negative of the target ``catch:_inverted``;
``odd_item = "metamer"``, ``model_id`` empty, ``group = "catch"``, ``is_catch = 1``).

**Practice** uses items that the main blocks do not: the ``practice_items`` easiest metamers (lowest
similarity to their target under the generating model; then left out of the main blocks), the listed
``practice_metamers`` (``practice_source = "own"``, also left out), or catch-type trials
(``"catch"``). With ``practice_criterion > 0`` the plan holds ``practice_max_rounds`` practice rounds
(``practice_round`` 1, 2, ...); a round runs only while no earlier round reached the criterion
(:func:`skip_trial`).

The sequence is seeded from the config seed, the participant id and the session number
(:func:`session_seed`), so the same inputs always give the same plan.

Examples
--------
>>> from psychophysics.config import Design
>>> items = [Item("m0", "s0", "net", "material", 2, True, 0.9, (1, 2, 3), (4, 5)),
...          Item("m1", "s0", "net", "shape", 2, True, 0.5, (1, 2, 3), (6, 7))]
>>> plan = build_plan(items, {"s0": 2}, Design(practice_trials=4, break_every=2), "P01", 1)
>>> len(plan), plan[0].block_type, plan[-1].block, plan[0].metamer_id
(8, 'practice', 2, 'm1')
>>> t = plan[-1]
>>> len({t.render_1, t.render_2, t.render_3}) >= 2
True
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

from psychophysics.config import Design
from psychophysics.keynames import key_order
from psychophysics.practice import round_accuracy, skip_trial
from psychophysics.renders import assign_renders as _assign_renders
from psychophysics.renders import pick_renders
from stimuli.errors import MRDError

__all__ = [
    "Item", "Trial", "build_plan", "items_from_store", "key_order", "pick_renders", "round_accuracy",
    "scene_render_seeds", "selection", "session_seed", "skip_trial",
]  # fmt: skip


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
    scene_render_seeds, metamer_render_seeds : tuple of int
        Seeds of the target's and the metamer's independent renders (empty: the store has none).
    """

    metamer_id: str
    scene_id: str
    model_id: str
    group: str
    n_views: int
    success: bool
    similarity: float
    scene_render_seeds: tuple[int, ...] = ()
    metamer_render_seeds: tuple[int, ...] = ()
    kind: str = "metamer"


@dataclass(frozen=True)
class Trial:
    """One planned trial: the planned part of a CSV row (:data:`stimuli.sessions.PLANNED_COLUMNS`)."""

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
    trial_type: str = "metamer"
    render_1: int | None = None
    render_2: int | None = None
    render_3: int | None = None
    practice_round: int = 0

    @property
    def renders(self) -> tuple[int | None, int | None, int | None]:
        """Render index shown at positions 1, 2, 3."""
        return (self.render_1, self.render_2, self.render_3)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trial:
        """Inverse of :meth:`to_dict` (extra keys are ignored; missing newer fields take defaults)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


class _StoreLike(Protocol):
    metamer_ids: list[str]
    scene_ids: list[str]

    def metamer(self, metamer_id: str, images: bool = ...) -> Any: ...  # noqa: D102

    def scene(self, scene_id: str, images: bool = ...) -> Any: ...  # noqa: D102


def _seeds(rec: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in (getattr(rec, "render_seeds", None) or ()))


def scene_render_seeds(store: _StoreLike) -> dict[str, tuple[int, ...]]:
    """Render seeds of every target scene (empty tuples for a schema 1.0 store)."""
    return {sid: _seeds(store.scene(sid, images=False)) for sid in store.scene_ids}


def items_from_store(store: _StoreLike, stimuli: str = "metamers") -> tuple[list[Item], dict[str, int]]:
    """Read the design's view of a stimulus set.

    ``stimuli = "probes"`` (``design.stimuli``) makes one item per probe unit instead
    (:mod:`stimuli.probes_io`; ``success`` True, ``similarity`` 1 - its display-render distance
    under its own model, ``kind = "probe"``).

    Returns
    -------
    items : list of Item
        One per metamer (or probe), in the store's order.
    scene_views : dict of str to int
        Number of views of every scene.
    """
    scenes = {sid: store.scene(sid, images=False) for sid in store.scene_ids}
    items = []
    if stimuli == "probes":
        for pid in store.probe_ids:
            rec = store.probe(pid, images=False)
            items.append(Item(pid, rec.scene_id, rec.model_id, rec.group, len(scenes[rec.scene_id].views), True,
                              1.0 - rec.distances.get(rec.model_id, math.nan), _seeds(scenes[rec.scene_id]),
                              _seeds(rec), kind="probe"))  # fmt: skip
        return items, {sid: len(s.views) for sid, s in scenes.items()}
    for xid in store.metamer_ids:
        rec = store.metamer(xid, images=False)
        sim = rec.similarity.get(rec.model_id)
        items.append(
            Item(
                xid, rec.scene_id, rec.model_id, rec.group, len(scenes[rec.scene_id].views), bool(rec.success),
                sim.mean_cosine if sim is not None else math.nan, _seeds(scenes[rec.scene_id]), _seeds(rec),
            )
        )
    return items, {sid: len(s.views) for sid, s in scenes.items()}


def session_seed(base: int, participant: str, session: int) -> int:
    """A 63-bit seed from the config seed, participant id and session (stable across processes).

    Examples
    --------
    >>> session_seed(0, "P01", 1) == session_seed(0, "P01", 1) != session_seed(0, "P01", 2)
    True
    """
    digest = hashlib.sha256(f"{base}|{participant}|{session}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def selection(items: list[Item], design: Design) -> tuple[list[Item], dict[str, int]]:
    """The metamers the design selects, and counts of what it left out and why.

    Examples
    --------
    >>> from psychophysics.config import Design
    >>> its = [Item("a", "s", "n", "shape", 1, True, 0.5), Item("b", "s", "n", "shape", 1, False, 0.5)]
    >>> [i.metamer_id for i in selection(its, Design())[0]], selection(its, Design())[1]["unsuccessful"]
    (['a'], 1)
    """
    by_filter = [
        it for it in items
        if (not design.models or it.model_id in design.models) and (not design.groups or it.group in design.groups)
    ]  # fmt: skip
    chosen = [it for it in by_filter if it.success or not design.only_successful]
    return chosen, {
        "in_store": len(items),
        "not_in_models_or_groups": len(items) - len(by_filter),
        "unsuccessful": len(by_filter) - len(chosen),
        "selected": len(chosen),
    }


def _cells(items: list[Item], design: Design, where: str) -> list[tuple[Item, int, str]]:
    cells = []
    for it in items:
        for v in design.views or list(range(it.n_views)):
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


def _metamer_rows(cells: list[tuple[Item, int, str]], rng: random.Random) -> list[dict[str, Any]]:
    rows = [
        dict(metamer_id=it.metamer_id, scene_id=it.scene_id, model_id=it.model_id, group=it.group, view=v,
             odd_item=odd, is_catch=0, trial_type="metamer", _item=it)
        for it, v, odd in cells
    ]  # fmt: skip
    for odd in ("metamer", "target"):
        same = [r for r in rows if r["odd_item"] == odd]
        for r, p in zip(same, _balanced_positions(len(same), rng), strict=True):
            r["odd_position"] = p
    for r in rows:
        it = r.pop("_item")
        std, other = (
            (it.scene_render_seeds, it.metamer_render_seeds)
            if r["odd_item"] == "metamer"
            else (it.metamer_render_seeds, it.scene_render_seeds)
        )
        _assign_renders(r, pick_renders(std, other, rng, f"metamer '{it.metamer_id}'") if std and other else None)
    return rows


def _catch_rows(
    cells: list[tuple[Item, int, str]], scene_views: dict[str, int], seeds: dict[str, tuple[int, ...]], n: int,
    rng: random.Random,
) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for p in _balanced_positions(n, rng):
        it, v, _ = rng.choice(cells)
        others = sorted(s for s in scene_views if s != it.scene_id)
        foreign = rng.choice(others) if others else None
        row = dict(
            metamer_id=f"catch:{foreign}" if foreign else "catch:_inverted", scene_id=it.scene_id, model_id="",
            group="catch", view=v, odd_item="metamer", is_catch=1, odd_position=p, trial_type="catch",
        )  # fmt: skip
        std = it.scene_render_seeds
        odd = seeds.get(foreign, ()) if foreign else None
        if std and foreign and not odd:
            std = ()
        if std and odd is None and len(std) < 3:  # inverted image: its render may repeat a standard's
            a, b = rng.sample(range(len(std)), 2)
            renders: tuple[int, int, int] | None = (a, b, rng.randrange(len(std)))
        else:
            renders = pick_renders(std, odd, rng, f"catch trial on scene '{it.scene_id}'") if std else None
        _assign_renders(row, renders)
        rows.append(row)
    return rows


def _noise_rows(cells: list[tuple[Item, int, str]], n: int, rng: random.Random) -> list[dict[str, Any]]:
    pairs = sorted({(it.scene_id, v): it for it, v, _ in cells}.items())
    order = list(range(len(pairs)))
    rng.shuffle(order)
    rows = []
    for k, p in zip(range(n), _balanced_positions(n, rng), strict=False):
        (sid, v), it = pairs[order[k % len(pairs)]]
        row = dict(
            metamer_id=f"noise:{sid}", scene_id=sid, model_id="", group="noise_floor", view=v,
            odd_item="target", is_catch=0, odd_position=p, trial_type="noise_floor",
        )  # fmt: skip
        seeds = it.scene_render_seeds
        _assign_renders(row, pick_renders(seeds, None, rng, f"noise-floor trial on scene '{sid}'") if seeds else None)
        rows.append(row)
    return rows


def _practice_items(main: list[Item], items: list[Item], design: Design) -> tuple[list[Item], list[Item]]:
    """``(practice items, main items)``: practice never uses a main-block metamer."""
    if not design.practice_trials or design.practice_source == "catch":
        return [], main
    if design.practice_source == "own":
        known = {it.metamer_id: it for it in items}
        missing = [m for m in design.practice_metamers if m not in known]
        if missing:
            raise MRDError(
                f"design.practice_metamers: {missing} not in the stimulus set (it has {sorted(known)[:10]}...)"
            )
        return [known[m] for m in design.practice_metamers], [
            it for it in main if it.metamer_id not in design.practice_metamers
        ]
    ranked = sorted(main, key=lambda it: (_nan_last(it.similarity), it.metamer_id))
    if len(ranked) <= design.practice_items:
        raise MRDError(
            f"design.practice_items = {design.practice_items}: the design selects {len(ranked)} metamer(s), "
            "and practice metamers are left out of the main blocks, so none would remain; use "
            "practice_source = 'catch' (practice on unrelated images), fewer practice_items, or practice_trials = 0"
        )
    return ranked[: design.practice_items], ranked[design.practice_items :]


def build_plan(
    items: list[Item], scene_views: dict[str, int], design: Design, participant: str, session: int,
    scene_seeds: dict[str, tuple[int, ...]] | None = None,
) -> list[Trial]:  # fmt: skip
    """Plan a session: practice round(s) (block 0) then main blocks.

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
    scene_seeds : dict, optional
        Render seeds per scene (:func:`scene_render_seeds`), for catch trials; default: from ``items``.

    Returns
    -------
    list of Trial
        In presentation order; ``trial`` runs 1..N over the whole session.

    Raises
    ------
    MRDError
        If the selection leaves no metamers, names unknown practice metamers or views, or the store has
        too few independent renders.
    """
    rng = random.Random(session_seed(design.seed, participant, session))
    seeds = {it.scene_id: it.scene_render_seeds for it in items} | dict(scene_seeds or {})
    selected, counts = selection(items, design)
    if not selected:
        raise MRDError(
            f"design selects no metamers (models={design.models}, groups={design.groups}, only_successful="
            f"{design.only_successful}; left out: {counts}); the stimulus set has {len(items)}"
        )
    practice_items, main_items = _practice_items(selected, items, design)
    if not main_items:
        raise MRDError("design: the practice metamers are all the selected metamers; none remain for the main blocks")

    main_cells = _cells(main_items, design, "main")
    rows = _metamer_rows(main_cells * design.repeats, rng)
    rows += _catch_rows(main_cells, scene_views, seeds, design.catch_trials, rng)
    rows += _noise_rows(main_cells, design.noise_floor_trials, rng)
    _spread_repeats(rows, rng)

    rounds = design.practice_max_rounds if design.practice_criterion > 0 else 1
    practice_rows: list[dict[str, Any]] = []
    for r in range(1, rounds + 1 if design.practice_trials else 1):
        if design.practice_source == "catch":
            picked = _catch_rows(main_cells, scene_views, seeds, design.practice_trials, rng)
        else:
            pcells = _cells(practice_items, design, "practice")  # easiest first
            picked = _metamer_rows([pcells[i % len(pcells)] for i in range(design.practice_trials)], rng)
        rng.shuffle(picked)
        practice_rows += [{**p, "practice_round": r} for p in picked]

    size = design.break_every or len(rows)
    trials: list[Trial] = []
    for i, r in enumerate(practice_rows):
        trials.append(Trial(block=0, block_type="practice", trial=len(trials) + 1, trial_in_block=i + 1, **r))
    for i, r in enumerate(rows):
        trials.append(
            Trial(block=i // size + 1, block_type="main", trial=len(trials) + 1, trial_in_block=i % size + 1, **r)
        )
    return trials


def _nan_last(x: float) -> float:
    return math.inf if math.isnan(x) else x
