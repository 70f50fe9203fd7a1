"""Simulated observers: accuracies against their closed-form predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from psychophysics.config import ExperimentConfig, ModelObserverParams, PsychometricObserverParams
from psychophysics.design import Trial
from psychophysics.observers import (
    ModelObserver,
    PsychometricObserver,
    SimilarityTable,
    make_observer,
    oddity_pc_differencing,
)
from stimuli import StimulusSet
from stimuli.errors import MRDError


def trials(n: int, metamer: str = "m0", rng_seed: int = 0) -> list[Trial]:
    rng = np.random.default_rng(rng_seed)
    return [
        Trial(
            1,
            "main",
            i + 1,
            i + 1,
            metamer,
            "s0",
            "net",
            "shape",
            0,
            ["metamer", "target"][i % 2],
            int(rng.integers(1, 4)),
            0,
        )
        for i in range(n)
    ]


def accuracy(obs: object, ts: list[Trial], seed: int = 1) -> float:
    rng = np.random.default_rng(seed)
    return float(np.mean([obs.choose(t, rng) == t.odd_position for t in ts]))  # type: ignore[attr-defined]


def test_oddity_formula_against_independent_values() -> None:
    # chance at d' = 0; the triangle/oddity table value Pc(d'=1) = 0.418 (Ennis 1993); tends to 1
    assert oddity_pc_differencing(0.0) == pytest.approx(1 / 3, abs=1e-9)
    assert oddity_pc_differencing(1.0) == pytest.approx(0.418, abs=0.001)
    assert 0.998 < oddity_pc_differencing(8.0) < oddity_pc_differencing(12.0) < 1.0
    assert np.all(np.diff([oddity_pc_differencing(d) for d in np.linspace(0, 5, 11)]) > 0)


def test_oracle_and_chance() -> None:
    cfg = ExperimentConfig()
    ts = trials(3000)
    assert accuracy(make_observer("oracle", cfg), ts) == 1.0
    acc = accuracy(make_observer("chance", cfg), ts)
    assert abs(acc - 1 / 3) < 4 * np.sqrt(1 / 3 * 2 / 3 / 3000)


@pytest.mark.parametrize("cosine", [0.99, 0.95, 0.9])
def test_model_observer_matches_oddity_dprime(cosine: float) -> None:
    """Monte Carlo accuracy of the model observer equals Pc(d' = (1 - cosine) / sigma)."""
    table = SimilarityTable(
        {"m0": {"net": (["l1", "l2"], np.array([[cosine - 0.01, cosine + 0.01]]))}}, {"m0": "net"}
    )
    obs = ModelObserver(table, ModelObserverParams(sigma=0.05))
    ts = trials(6000)
    assert obs.dprime(ts[0]) == pytest.approx((1 - cosine) / 0.05)
    expected = oddity_pc_differencing((1 - cosine) / 0.05)
    se = np.sqrt(expected * (1 - expected) / len(ts))
    assert abs(accuracy(obs, ts) - expected) < 4 * se


def test_psychometric_observer() -> None:
    table = SimilarityTable({"m0": {"net": (["l1"], np.array([[0.95]]))}}, {"m0": "net"})
    p = PsychometricObserverParams(threshold=0.05, width=0.02, lapse=0.1)
    obs = PsychometricObserver(table, p)
    ts = trials(6000)
    assert obs.p_correct(ts[0]) == pytest.approx(1 / 3 + (1 - 1 / 3 - 0.1) * 0.5)
    expected = obs.p_correct(ts[0])
    assert abs(accuracy(obs, ts) - expected) < 4 * np.sqrt(expected * (1 - expected) / len(ts))
    catch = Trial(1, "main", 1, 1, "catch:s1", "s0", "", "catch", 0, "metamer", 2, 1)
    assert obs.p_correct(catch) > 0.85  # unrelated image: near 1 - lapse


def test_similarity_table_from_store(store_path: Path) -> None:
    with StimulusSet(store_path) as s:
        table = SimilarityTable.from_store(s)
    assert table.cosine("s0_mat", "", "", 0) == pytest.approx(0.99)
    assert table.cosine("s0_mat", "netA", "l1", 1) == pytest.approx(0.96)
    assert table.cosine("s0_mat", "netB", "", None) == pytest.approx(0.97)
    with pytest.raises(MRDError, match=r"only for \['netB'\]"):
        table.cosine("s1_lit", "netA", "", 0)
    with pytest.raises(MRDError, match="layer 'zz'"):
        table.cosine("s0_mat", "netA", "zz", 0)


def test_model_observer_per_view_and_catch(store_path: Path) -> None:
    with StimulusSet(store_path) as s:
        obs = make_observer(
            "model", ExperimentConfig.from_dict({"observers": {"model": {"per_view": False}}}), s
        )
    t = Trial(1, "main", 1, 1, "s0_shp", "s0", "netA", "shape", 0, "metamer", 1, 0)
    assert obs.distance(t) == pytest.approx(1 - 0.875)
    catch = Trial(1, "main", 1, 1, "catch:s1", "s0", "", "catch", 0, "metamer", 1, 1)
    assert obs.distance(catch) == 1.0


def test_unknown_observer_and_missing_store() -> None:
    with pytest.raises(MRDError, match="unknown simulated observer 'bob'"):
        make_observer("bob", ExperimentConfig())
    with pytest.raises(MRDError, match="recorded similarities"):
        make_observer("model", ExperimentConfig())
