"""Which images a trial shows: odd item placement, catch images, PIL conversion."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from psychophysics.design import Trial
from psychophysics.images import TrialImages
from stimuli import StimulusSet


def trial(metamer: str, scene: str, odd_item: str, pos: int, view: int = 1, catch: int = 0) -> Trial:
    return Trial(1, "main", 1, 1, metamer, scene, "netA", "shape", view, odd_item, pos, catch)


def test_odd_item_at_its_position(store_path: Path) -> None:
    with StimulusSet(store_path) as s:
        images = TrialImages(s)
        target, metamer = s.scene_display("s0")[1], s.metamer_display("s0_shp")[1]
        a = images.arrays(trial("s0_shp", "s0", "metamer", 2))
        assert np.array_equal(a[1], metamer) and np.array_equal(a[0], target) and np.array_equal(a[2], target)
        b = images.arrays(trial("s0_shp", "s0", "target", 3))
        assert (
            np.array_equal(b[2], target) and np.array_equal(b[0], metamer) and np.array_equal(b[1], metamer)
        )
        pil = images.pil(trial("s0_shp", "s0", "metamer", 1))
        assert pil[0].mode == "RGB" and np.array_equal(np.asarray(pil[0]), metamer)


def test_catch_images(store_path: Path) -> None:
    with StimulusSet(store_path) as s:
        images = TrialImages(s, cache_size=1)
        target = s.scene_display("s0")[1]
        foreign = images.arrays(trial("catch:s1", "s0", "metamer", 1, catch=1))
        assert np.array_equal(foreign[0], s.scene_display("s1")[1]) and np.array_equal(foreign[1], target)
        inverted = images.arrays(trial("catch:_inverted", "s0", "metamer", 3, catch=1))
        assert np.array_equal(inverted[2], 255 - target) and np.array_equal(inverted[0], target)
