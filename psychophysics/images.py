"""Which three images a trial shows (no PsychoPy).

The images are the store's 8-bit sRGB *display* images. A normal trial shows the target scene's
view and the metamer's view of the same index; the odd item (``odd_item``) appears once, at
``odd_position``, the other twice. A catch trial ``catch:<scene id>`` shows that scene's target
(view ``view % n_views``) as the odd item; ``catch:_inverted`` shows the colour negative of the target.
PsychoPy's ImageStim gets PIL images (numpy arrays would be shown upside down and rescaled).

Examples
--------
>>> import numpy as np
>>> from psychophysics.design import Trial
>>> class Store:
...     def scene_display(self, sid): return np.zeros((1, 4, 4, 3), np.uint8)
...     def metamer_display(self, xid): return np.full((1, 4, 4, 3), 255, np.uint8)
>>> t = Trial(1, "main", 1, 1, "m0", "s0", "net", "shape", 0, "metamer", 2, 0)
>>> [int(im.mean()) for im in TrialImages(Store()).arrays(t)]
[0, 255, 0]
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from psychophysics.design import Trial


class TrialImages:
    """Reads display images from a store, keeping the most recently used ones in memory.

    Parameters
    ----------
    store : stimuli.StimulusSet
        An open stimulus set.
    cache_size : int
        Number of (scene or metamer) image stacks to keep.
    """

    def __init__(self, store: Any, cache_size: int = 32) -> None:
        self.store = store
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    def _stack(self, kind: str, uid: str) -> np.ndarray:
        key = (kind, uid)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        arr = self.store.scene_display(uid) if kind == "scene" else self.store.metamer_display(uid)
        self._cache[key] = np.asarray(arr, dtype=np.uint8)
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return self._cache[key]

    def pair(self, trial: Trial) -> tuple[np.ndarray, np.ndarray]:
        """``(target image, other image)`` as ``(H, W, 3)`` uint8, other = metamer or catch image."""
        target = self._stack("scene", trial.scene_id)[trial.view]
        if trial.metamer_id == "catch:_inverted":
            return target, 255 - target
        if trial.metamer_id.startswith("catch:"):
            foreign = self._stack("scene", trial.metamer_id.split(":", 1)[1])
            return target, foreign[trial.view % len(foreign)]
        return target, self._stack("metamer", trial.metamer_id)[trial.view]

    def arrays(self, trial: Trial) -> list[np.ndarray]:
        """The three images in position order (1, 2, 3)."""
        target, other = self.pair(trial)
        odd, base = (other, target) if trial.odd_item == "metamer" else (target, other)
        return [odd if pos == trial.odd_position else base for pos in (1, 2, 3)]

    def pil(self, trial: Trial) -> list[Any]:
        """The three images as PIL RGB images (for ``visual.ImageStim``)."""
        from PIL import Image

        return [Image.fromarray(np.ascontiguousarray(a)).convert("RGB") for a in self.arrays(trial)]
