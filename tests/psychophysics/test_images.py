"""Which images a trial shows: independent renders at each position, catch and noise-floor images, the
noise statistics of the standards, pixel replication and calibration."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from psychophysics.calibration import drive_table
from psychophysics.config import Design, Monitor
from psychophysics.design import Trial, build_plan, items_from_store, scene_render_seeds
from psychophysics.images import TrialImages
from stimuli import StimulusSet
from stimuli.errors import MRDError


def trial(metamer: str, scene: str, odd_item: str, pos: int, renders: tuple[int, int, int], view: int = 1,
          catch: int = 0, kind: str = "metamer") -> Trial:  # fmt: skip
    return Trial(1, "main", 1, 1, metamer, scene, "netA", "shape", view, odd_item, pos, catch, kind, *renders)


def test_each_position_shows_its_render(store_path: Path) -> None:
    with StimulusSet(store_path) as s:
        images = TrialImages(s)
        target, metamer = s.renders("scene", "s0")[:, 1], s.renders("metamer", "s0_shp")[:, 1]
        a = images.arrays(trial("s0_shp", "s0", "metamer", 2, (3, 2, 1)))
        assert np.array_equal(a[1], metamer[2]) and np.array_equal(a[0], target[3]) and np.array_equal(a[2], target[1])
        b = images.arrays(trial("s0_shp", "s0", "target", 3, (0, 2, 1)))
        assert np.array_equal(b[2], target[1]) and np.array_equal(b[0], metamer[0]) and np.array_equal(b[1], metamer[2])
        pil = images.pil(trial("s0_shp", "s0", "metamer", 1, (1, 0, 2)))
        assert pil[0].mode == "RGB" and np.array_equal(np.asarray(pil[0]), metamer[1])


def test_catch_and_noise_floor_images(store_path: Path) -> None:
    with StimulusSet(store_path) as s:
        images = TrialImages(s, cache_size=1)
        target = s.renders("scene", "s0")[:, 1]
        foreign = images.arrays(trial("catch:s1", "s0", "metamer", 1, (2, 0, 1), catch=1, kind="catch"))
        assert np.array_equal(foreign[0], s.renders("scene", "s1")[2, 1]) and np.array_equal(foreign[1], target[0])
        inverted = images.arrays(trial("catch:_inverted", "s0", "metamer", 3, (0, 1, 2), catch=1, kind="catch"))
        assert np.array_equal(inverted[2], 255 - target[2]) and np.array_equal(inverted[0], target[0])
        noise = images.arrays(trial("noise:s0", "s0", "target", 2, (0, 3, 1), kind="noise_floor"))
        assert all(np.array_equal(n, target[r]) for n, r in zip(noise, (0, 3, 1), strict=True))


def _rms(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> float:
    return float(np.sqrt((((x - y) ** 2) * mask).sum() / (mask.sum() * 3)))


def test_standards_differ_as_much_as_the_odd_item_outside_the_object(store_path: Path) -> None:
    """Measured on the stored set: within each planned trial, the two standards differ from each other by
    the same noise as each differs from the odd item, outside the region where the scenes differ."""
    ss, so = _noise_levels(store_path)
    assert ss > 3.0  # independent noise is there (the test set's noise has SD 6 grey levels)
    assert abs(ss - so) / so < 0.05, (ss, so)


def test_noise_matched_on_a_generated_set() -> None:
    """The same measurement on a set made by `mrd generate` (path in MRD_TEST_STORE; e.g. the demo's)."""
    path = os.environ.get("MRD_TEST_STORE")
    if not path:
        pytest.skip("set MRD_TEST_STORE=SET.h5 (a schema 1.1 store with renders) to measure it on a generated set")
    ss, so = _noise_levels(Path(path))
    assert ss > 0.0  # independent noise is there
    assert abs(ss - so) / so < 0.05, (ss, so)


def _shown_indices(t: Trial) -> tuple[set[int], set[int]]:
    """Render indices of the target and of the metamer that a trial shows."""
    odd = {t.renders[t.odd_position - 1]}
    base = {r for p, r in enumerate(t.renders, 1) if p != t.odd_position}
    return (base, odd) if t.odd_item == "metamer" else (odd, base)


def _noise_levels(store_path: Path) -> tuple[float, float]:
    """Mean RMS difference (grey levels, outside the object) standard-standard and standard-odd."""
    with StimulusSet(store_path) as s:
        items, views = items_from_store(s)
        trials = build_plan(items, views, Design(practice_trials=0, repeats=6, only_successful=False), "P01", 1,
                        scene_render_seeds(s))
        images = TrialImages(s)
        std_std, std_odd = [], []
        for t in trials:
            imgs = [a.astype(float) for a in images.arrays(t)]
            odd = imgs[t.odd_position - 1]
            a, b = (im for i, im in enumerate(imgs, 1) if i != t.odd_position)
            # where the two scenes differ by more than 2 SE of their noise (the object change), grown by one
            # pixel: left out. The mask is estimated from the renders this trial does not show, so it is
            # independent of the shown noise.
            rt = s.renders("scene", t.scene_id)[:, t.view].astype(float)
            rm = s.renders("metamer", t.metamer_id)[:, t.view].astype(float)
            shown_t, shown_m = _shown_indices(t)
            ut = [r for r in range(len(rt)) if r not in shown_t] or list(range(len(rt)))
            um = [r for r in range(len(rm)) if r not in shown_m] or list(range(len(rm)))
            se = np.sqrt(rt.var(axis=0, ddof=1) / len(ut) + rm.var(axis=0, ddof=1) / len(um))
            diff = np.abs(rt[ut].mean(axis=0) - rm[um].mean(axis=0))
            changed = binary_dilation((diff > 2 * se + 1.0).any(axis=-1), iterations=1)  # and its edge pixels
            outside = ~changed[..., None]
            if outside.mean() < 0.05:
                continue  # the scenes differ (almost) everywhere: nothing outside the object to compare
            std_std.append(_rms(a, b, outside))
            std_odd.append((_rms(a, odd, outside) + _rms(b, odd, outside)) / 2)
            assert not np.array_equal(a, b)  # never the same render twice
    if not std_std:
        pytest.skip(f"{store_path}: the scenes of every trial differ almost everywhere (no background to compare)")
    ss, so = np.mean(std_std), np.mean(std_odd)
    print(f"\n{store_path}: {len(std_std)} trials, RMS standard-standard {ss:.3f}, standard-odd {so:.3f} grey levels"
          " outside the object")
    return float(ss), float(so)


def test_scale_and_calibration_apply_identically(store_path: Path) -> None:
    with StimulusSet(store_path) as s:
        table = drive_table(Monitor(calibration="gamma", gamma=2.2, white_cd_m2=100.0, black_cd_m2=1.0))
        t = trial("s0_shp", "s0", "metamer", 2, (3, 2, 1))
        raw = TrialImages(s).arrays(t)
        shown = TrialImages(s, table, scale=3).shown(t)
        for r, sh in zip(raw, shown, strict=True):
            assert sh.shape == (r.shape[0] * 3, r.shape[1] * 3, 3)
            assert np.array_equal(sh[::3, ::3], table[r, np.arange(3)]) and np.array_equal(sh[2::3, 1::3], sh[::3, ::3])
    with pytest.raises(MRDError, match="whole number"):
        TrialImages(None, scale=1.5)  # type: ignore[arg-type]


def test_store_without_renders_says_what_it_lacks(tmp_path: Path) -> None:
    from tests.psychophysics.conftest import build_store  # the same set, written without renders

    build_store(tmp_path / "new.h5", with_renders=False)
    with StimulusSet(tmp_path / "new.h5") as s, pytest.raises(MRDError, match="no independent renders"):
        TrialImages(s).arrays(trial("s0_shp", "s0", "metamer", 2, (0, 1, 2)))
