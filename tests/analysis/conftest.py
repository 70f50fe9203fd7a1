"""Fixtures for the analysis tests: a synthetic stimulus set with simulated sessions, and the Wallis data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from analysis.api import _blas_limit
from analysis.synthetic import make_store, simulate_sessions

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
WALLIS = DATASETS / "wallis2017_oddity"

# Known observer used by the session fixture: {group: (alpha, beta, lapse)} of a Weibull in 1 - cosine.
TRUE_PARAMS = {"shape": (0.05, 1.5, 0.04), "material": (0.10, 2.0, 0.04), "lighting": (0.03, 1.2, 0.04)}


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread() -> Iterator[None]:
    """Run the fits as ``analyze()`` does: one BLAS thread (small matrices; threads only add overhead)."""
    with _blas_limit(1):
        yield


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic stimulus set: 5 scenes x 3 groups x 4 metamers, 2 models, 2 views."""
    return make_store(tmp_path_factory.mktemp("store") / "set.h5", n_scenes=5, metamers_per_scene=4, size=16)


@pytest.fixture(scope="session")
def sessions(store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    """Six simulated sessions (one incomplete) on ``store``: (store, data_dir, simulated trials)."""
    data = tmp_path_factory.mktemp("data")
    truth = simulate_sessions(
        store,
        data,
        n_participants=6,
        n_main=300,
        n_practice=8,
        catch_rate=0.05,
        params=TRUE_PARAMS,
        seed=7,
        incomplete=[5],
    )
    return store, data, truth


@pytest.fixture(scope="session")
def wallis() -> Path:
    """The Wallis et al. (2017) oddity data folder (skipped when this checkout has no ../shared)."""
    if not (WALLIS / "experiment11_trials.csv").exists():
        pytest.skip(
            f"Wallis 2017 oddity data not found at {WALLIS} (expected ../shared/datasets next to the repo)"
        )
    return WALLIS
