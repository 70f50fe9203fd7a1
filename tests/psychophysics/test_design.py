"""Trial design: counterbalancing, odd positions, blocks, practice, catch trials, seeding."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from psychophysics.config import Design
from psychophysics.design import Item, Trial, build_plan, key_order, pick_renders, session_seed, skip_trial
from stimuli.errors import MRDError

SCENE_SEEDS = {f"s{k}": tuple(10 * k + r for r in range(4)) for k in range(3)}
ITEMS = [
    Item(
        f"m{i}",
        f"s{i % 3}",
        "netA" if i % 2 else "netB",
        ["shape", "material", "lighting"][i % 3],
        4,
        i != 5,
        0.5 + 0.04 * i,
        SCENE_SEEDS[f"s{i % 3}"],
        # m0..m2 reuse their scene's seeds (as a generator may): the design must still pick three different
        SCENE_SEEDS[f"s{i % 3}"][:3] if i < 3 else tuple(1000 + 10 * i + r for r in range(3)),
    )
    for i in range(10)
]
SEEDS = {it.metamer_id: it.metamer_render_seeds for it in ITEMS}
REPO = Path(__file__).resolve().parents[2]


def plan(
    design: Design, participant: str = "P01", session: int = 1, items: list[Item] = ITEMS
) -> list[Trial]:
    return build_plan(items, {s: 4 for s in {it.scene_id for it in items}}, design, participant, session)


def test_every_cell_counterbalanced_and_repeated() -> None:
    trials = plan(Design(repeats=2, practice_trials=0, only_successful=False))
    main = [t for t in trials if t.block_type == "main"]
    cells = Counter((t.metamer_id, t.view, t.odd_item) for t in main)
    assert len(cells) == 10 * 4 * 2
    assert set(cells.values()) == {2}
    assert [t.trial for t in trials] == list(range(1, len(trials) + 1))


def test_odd_position_balanced_within_plan_and_uniform_across_participants() -> None:
    for pid in ("A", "B", "C"):
        main = [t for t in plan(Design(practice_trials=0), pid) if t.block_type == "main"]
        for odd in ("metamer", "target"):
            counts = Counter(t.odd_position for t in main if t.odd_item == odd)
            assert set(counts) == {1, 2, 3} and max(counts.values()) - min(counts.values()) <= 1
    # one cell's position over many participants: each position about 1/3 of the time
    pos = Counter()
    for i in range(300):
        t = next(
            t
            for t in plan(Design(practice_trials=0), f"p{i}")
            if (t.metamer_id, t.view, t.odd_item) == ("m3", 2, "target")
        )
        pos[t.odd_position] += 1
    assert all(70 <= pos[p] <= 130 for p in (1, 2, 3)), pos


def test_reproducible_by_participant_and_session() -> None:
    d = Design(catch_trials=4)
    assert plan(d, "P01", 1) == plan(d, "P01", 1)
    assert plan(d, "P01", 1) != plan(d, "P01", 2)
    assert plan(d, "P01", 1) != plan(d, "P02", 1)
    assert plan(d, "P01", 1) != plan(Design(catch_trials=4, seed=7), "P01", 1)
    assert 0 <= session_seed(0, "P01", 1) < 2**63


def test_seed_is_stable_across_processes() -> None:
    code = "from psychophysics.design import session_seed; print(session_seed(3, 'P01', 2))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123"},
        cwd=REPO,
    )
    assert int(out.stdout) == session_seed(3, "P01", 2)


def test_blocks_and_practice() -> None:
    trials = plan(Design(practice_trials=6, break_every=25, only_successful=False))
    practice = [t for t in trials if t.block_type == "practice"]
    main = [t for t in trials if t.block_type == "main"]
    assert len(practice) == 6 and {t.block for t in practice} == {0} and {t.practice_round for t in practice} == {1}
    assert trials[:6] == practice  # practice first
    # easiest (lowest similarity) metamer: m0 with 4 views x 2 odd items = 8 cells >= 6 trials; it is
    # then not in the main blocks (practice items are distinct from main items)
    assert {t.metamer_id for t in practice} == {"m0"} and "m0" not in {t.metamer_id for t in main}
    sizes = Counter(t.block for t in main)
    assert sizes == {1: 25, 2: 25, 3: 22}
    assert {t.practice_round for t in main} == {0}
    assert all(t.trial_in_block == i % 25 + 1 for i, t in enumerate(main))


def test_own_practice_items_leave_the_main_blocks() -> None:
    trials = plan(Design(practice_trials=5, practice_source="own", practice_metamers=["m9"]))
    assert {t.metamer_id for t in trials if t.block_type == "practice"} == {"m9"}
    assert "m9" not in {t.metamer_id for t in trials if t.block_type == "main"}
    with pytest.raises(MRDError, match="nope"):
        plan(Design(practice_source="own", practice_metamers=["nope"]))


def test_catch_trials() -> None:
    trials = plan(Design(catch_trials=7, practice_trials=0, only_successful=False))
    catch = [t for t in trials if t.is_catch]
    assert len(catch) == 7 and len(trials) == 80 + 7
    for t in catch:
        assert t.metamer_id.startswith("catch:") and t.metamer_id != f"catch:{t.scene_id}"
        assert (t.group, t.model_id, t.odd_item, t.trial_type) == ("catch", "", "metamer", "catch")
        foreign = SCENE_SEEDS[t.metamer_id.split(":")[1]]
        shown = [foreign[r] if p == t.odd_position else SCENE_SEEDS[t.scene_id][r] for p, r in enumerate(t.renders, 1)]
        assert len(set(shown)) == 3
    one_scene = [Item("a", "s0", "n", "shape", 1, True, 0.9)]
    single = build_plan(one_scene, {"s0": 1}, Design(catch_trials=2, practice_trials=0), "P", 1)
    assert [t.metamer_id for t in single if t.is_catch] == ["catch:_inverted"] * 2


def test_selection_views_and_errors() -> None:
    trials = plan(Design(views=[1], groups=["shape"], models=["netB"], practice_trials=0))
    assert {t.view for t in trials} == {1}
    assert {(t.group, t.model_id) for t in trials} == {("shape", "netB")}
    assert len(plan(Design(only_successful=True, practice_trials=0))) == 9 * 8
    assert len(plan(Design(only_successful=False, practice_trials=0))) == 10 * 8
    assert len(plan(Design(odd_items=["metamer"], practice_trials=0, only_successful=False))) == 40
    with pytest.raises(MRDError, match="selects no metamers"):
        plan(Design(models=["unknown"]))
    with pytest.raises(MRDError, match="view 7"):
        plan(Design(views=[7]))


def test_three_different_renders_with_different_seeds() -> None:
    """Every trial shows three different renders: two of the repeated scene, one of the other."""
    trials = plan(Design(practice_trials=8, repeats=3, only_successful=False))
    for t in trials:
        it = next(i for i in ITEMS if i.metamer_id == t.metamer_id)
        odd_stack, base_stack = (
            (it.metamer_render_seeds, it.scene_render_seeds)
            if t.odd_item == "metamer"
            else (it.scene_render_seeds, it.metamer_render_seeds)
        )
        seeds = [odd_stack[r] if p == t.odd_position else base_stack[r] for p, r in enumerate(t.renders, 1)]
        assert len(set(seeds)) == 3, t
        assert len({r for p, r in enumerate(t.renders, 1) if p != t.odd_position}) == 2
    used = Counter(r for t in trials for r in t.renders)
    assert set(used) == {0, 1, 2, 3}  # all renders are used
    with pytest.raises(MRDError, match="not enough independent renders"):
        pick_renders((1,), (2,), __import__("random").Random(0), "m")
    legacy = [Item("a", "s0", "n", "shape", 1, True, 0.9)]  # schema 1.0: no renders known
    assert {t.renders for t in build_plan(legacy, {"s0": 1}, Design(practice_trials=0), "P", 1)} == {(None, None, None)}


def test_noise_floor_trials() -> None:
    trials = plan(Design(noise_floor_trials=12, practice_trials=0))
    noise = [t for t in trials if t.trial_type == "noise_floor"]
    assert len(noise) == 12 and len(trials) == 9 * 8 + 12
    assert Counter(t.odd_position for t in noise) == {1: 4, 2: 4, 3: 4}
    for t in noise:
        assert (t.metamer_id, t.group, t.model_id, t.odd_item, t.is_catch) == (
            f"noise:{t.scene_id}", "noise_floor", "", "target", 0,
        )  # fmt: skip
        assert len(set(t.renders)) == 3  # three different renders of the same target
    assert len({(t.scene_id, t.view) for t in noise}) == 12  # spread over scenes and views


def test_practice_criterion_rounds_and_skipping() -> None:
    trials = plan(Design(practice_trials=4, practice_criterion=0.75, practice_max_rounds=3))
    practice = [t for t in trials if t.block_type == "practice"]
    assert [t.practice_round for t in practice] == [1] * 4 + [2] * 4 + [3] * 4
    done = [{"practice_round": 1, "correct": c} for c in (1, 1, 0, 0)]  # 50 % < 75 %: round 2 runs
    assert not any(skip_trial(t, done, 0.75) for t in practice[4:8])
    done += [{"practice_round": 2, "correct": c} for c in (1, 1, 1, 0)]  # 75 %: round 3 is skipped
    assert all(skip_trial(t, done, 0.75) for t in practice[8:])
    assert not any(skip_trial(t, done, 0.75) for t in trials if t.block_type == "main")
    catch_practice = plan(Design(practice_trials=5, practice_source="catch"))
    assert {t.trial_type for t in catch_practice if t.block_type == "practice"} == {"catch"}
    with pytest.raises(MRDError, match="none would remain"):
        plan(Design(practice_items=9))


def test_key_order_counterbalanced_over_participants() -> None:
    orders = Counter(tuple(key_order(f"P{i}", 1, 0, True)) for i in range(600))
    assert len(orders) == 6 and all(70 <= n <= 130 for n in orders.values())
    assert key_order("P1", 1, 0, False) == [1, 2, 3]


def test_same_metamer_rarely_back_to_back() -> None:
    main = [t for t in plan(Design(practice_trials=0, repeats=2)) if t.block_type == "main"]
    runs = sum(a.metamer_id == b.metamer_id for a, b in zip(main, main[1:], strict=False))
    assert runs <= 1


def test_trial_round_trips_through_dict() -> None:
    t = plan(Design(practice_trials=0))[0]
    assert Trial.from_dict(t.to_dict()) == t


def test_light_modules_import_no_psychopy_or_torch() -> None:
    code = (
        "import sys, psychophysics.design, psychophysics.observers, psychophysics.simulate, "
        "psychophysics.commands, psychophysics.datafile, psychophysics.preparation, psychophysics.images; "
        "bad = [m for m in ('psychopy', 'torch', 'mitsuba', 'mrd', 'analysis') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr


def test_planned_columns_are_the_contracts() -> None:
    """The plan's trial fields are exactly stimuli.sessions.PLANNED_COLUMNS (the one source of columns)."""
    from dataclasses import fields

    from stimuli.sessions import PLANNED_COLUMNS, TRIAL_COLUMNS

    assert tuple(f.name for f in fields(Trial)) == PLANNED_COLUMNS
    assert set(PLANNED_COLUMNS) < set(TRIAL_COLUMNS)
    legacy = {k: v for k, v in plan(Design(practice_trials=0))[0].to_dict().items() if k in TRIAL_COLUMNS[:22]}
    assert Trial.from_dict(legacy).trial_type == "metamer"  # a 1.0 plan entry still reads


def test_package_exposes_entry_points_lazily() -> None:
    code = (
        "import sys, psychophysics; assert 'psychopy' not in sys.modules and 'psychophysics.design' not in sys.modules; "
        "from psychophysics import build_plan, simulate_participants, load_config, make_observer, prepare; "
        "bad = [m for m in ('psychopy', 'torch', 'mitsuba') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr


def test_shipped_demo_config_on_a_set_with_renders(tmp_path: Path) -> None:
    """The demo experiment config plans a session with a break on a set shaped like the demo's."""
    from psychophysics.config import load_config
    from psychophysics.design import items_from_store, scene_render_seeds
    from stimuli import StimulusSet
    from stimuli.testing import write_synthetic_store

    path = tmp_path / "demo-like.h5"
    write_synthetic_store(path, n_scenes=2, n_metamers_per_scene=2, views=2)
    cfg = load_config(REPO / "psychophysics" / "experiments" / "demo.toml")
    with StimulusSet(path) as s:
        items, views = items_from_store(s)
        trials = build_plan(items, views, cfg.design, "sim01", 1, scene_render_seeds(s))
    main = [t for t in trials if t.block_type == "main"]
    assert len(main) == 68 and max(t.block for t in main) == 2  # one break
    assert all(None not in t.renders for t in trials)
