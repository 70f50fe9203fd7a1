"""Which three images a trial shows, exactly as they go to the screen (no PsychoPy).

The images are the store's independent 8-bit sRGB display renders (schema 1.1: ``renders``,
``(R, V, H, W, 3)`` per scene and per metamer). Position ``p`` of a trial shows render
``render_p`` of view ``view``: at ``odd_position`` of the odd item, elsewhere of the other item
(:mod:`psychophysics.design`). Normal trials: the odd item is the metamer (``odd_item = "metamer"``)
or the target. ``noise:<scene>`` trials show three renders of the target. A catch trial
``catch:<scene id>`` shows that scene's target (view ``view % n_views``) as the odd item;
``catch:_inverted`` shows the colour negative of a target render.

What is shown (:meth:`TrialImages.shown`) is the stored image mapped through the display calibration
table (:mod:`psychophysics.calibration`) and enlarged by the whole-number ``scale`` (each pixel becomes a
``scale x scale`` block; no interpolation), identically at every position; PsychoPy then draws it 1:1 at
whole-pixel positions. PsychoPy's ImageStim gets PIL images (numpy arrays would be shown upside down
and rescaled).

Examples
--------
>>> import numpy as np
>>> from psychophysics.design import Trial
>>> class Store:
...     def render_seeds(self, kind, uid): return [0, 1, 2]
...     def renders(self, kind, uid):
...         if kind == "metamer": return np.full((2, 1, 4, 4, 3), 255, np.uint8)
...         return np.zeros((3, 1, 4, 4, 3), np.uint8) + np.arange(3)[:, None, None, None, None]
>>> t = Trial(1, "main", 1, 1, "m0", "s0", "net", "shape", 0, "metamer", 2, 0, "metamer", 1, 0, 2)
>>> [int(im.mean()) for im in TrialImages(Store()).arrays(t)]
[1, 255, 2]
>>> TrialImages(Store(), scale=3).shown(t)[0].shape
(12, 12, 3)
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from psychophysics.calibration import apply
from psychophysics.design import Trial
from stimuli.errors import MRDError


def read_renders(store: Any, kind: str, uid: str) -> np.ndarray:
    """``(R, V, H, W, 3)`` uint8 renders of a scene or metamer (``kind``: ``scene``/``metamer``).

    Raises
    ------
    MRDError
        If the store has no independent renders (schema 1.0), saying how to get them.
    """
    if hasattr(store, "render_seeds"):  # stimuli.StimulusSet (schema 1.1 reader): clear error if absent
        arr = store.renders(kind, uid)
    else:
        group = store._unit(f"{kind}s", uid)  # the reader's unit lookup (clear error for unknown ids)
        arr = group["renders"][()] if "renders" in group else None
    if arr is None:
        raise MRDError(
            f"{store.path if hasattr(store, 'path') else 'stimulus set'}: {kind} '{uid}' has no independent "
            "display renders (a schema 1.0 store has only one image per view); an oddity trial needs three "
            "different renders (two of one scene, one of the other). Regenerate the set with this suite "
            "(`mrd generate CONFIG.toml SET.h5`; schema 1.1 stores `renders`)"
        )
    return np.asarray(arr, dtype=np.uint8)


class TrialImages:
    """Reads renders from a store, keeping the most recently used stacks in memory.

    Parameters
    ----------
    store : stimuli.StimulusSet
        An open stimulus set.
    table : numpy.ndarray, optional
        ``(256, 3)`` uint8 calibration table (:func:`psychophysics.calibration.drive_table`); none = identity.
    scale : int
        Whole-number enlargement of every image (pixel replication).
    cache_size : int
        Number of (scene or metamer) render stacks to keep.
    """

    def __init__(self, store: Any, table: np.ndarray | None = None, scale: int = 1, cache_size: int = 32) -> None:
        if int(scale) != scale or scale < 1:
            raise MRDError(f"image scale {scale!r}: give a whole number >= 1")
        self.store, self.table, self.scale = store, table, int(scale)
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._probes: frozenset[str] | None = None

    def _probe_ids(self) -> frozenset[str]:
        """Ids of the store's probe units (odd items of a ``design.stimuli = "probes"`` session)."""
        if self._probes is None:
            self._probes = frozenset(getattr(self.store, "probe_ids", ()))
        return self._probes

    def stack(self, kind: str, uid: str) -> np.ndarray:
        """The renders ``(R, V, H, W, 3)`` of a scene or metamer (cached)."""
        key = (kind, uid)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        self._cache[key] = read_renders(self.store, kind, uid)
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return self._cache[key]

    def _odd_and_base(self, trial: Trial) -> tuple[Any, Any]:
        """Functions render index -> image for the odd item and for the repeated one."""
        target = self.stack("scene", trial.scene_id)

        def view(stack: np.ndarray, v: int) -> Any:
            return lambda r: stack[r, v % stack.shape[1]]

        tv = view(target, trial.view)
        if trial.metamer_id.startswith("noise:"):
            return tv, tv
        if trial.metamer_id == "catch:_inverted":
            return (lambda r: 255 - target[r, trial.view]), tv
        if trial.metamer_id.startswith("catch:"):
            return view(self.stack("scene", trial.metamer_id.split(":", 1)[1]), trial.view), tv
        kind = "probe" if trial.metamer_id in self._probe_ids() else "metamer"
        mv = view(self.stack(kind, trial.metamer_id), trial.view)
        return (mv, tv) if trial.odd_item == "metamer" else (tv, mv)

    def arrays(self, trial: Trial) -> list[np.ndarray]:
        """The three stored images ``(H, W, 3)`` uint8 in position order (1, 2, 3)."""
        if None in trial.renders:
            raise MRDError(
                f"trial {trial.trial}: the plan records no render indices (it was made from a store without "
                "independent renders); make a new session on a schema 1.1 stimulus set"
            )
        odd, base = self._odd_and_base(trial)
        return [
            (odd if pos == trial.odd_position else base)(int(r)) for pos, r in zip((1, 2, 3), trial.renders, strict=True)
        ]

    def shown(self, trial: Trial) -> list[np.ndarray]:
        """The three images as they go to the screen: calibrated, enlarged by ``scale``."""
        out = []
        for img in self.arrays(trial):
            if self.table is not None:
                img = apply(self.table, img)
            if self.scale > 1:
                img = np.repeat(np.repeat(img, self.scale, axis=0), self.scale, axis=1)
            out.append(np.ascontiguousarray(img))
        return out

    def pil(self, trial: Trial) -> list[Any]:
        """:meth:`shown` as PIL RGB images (for ``visual.ImageStim``)."""
        from PIL import Image

        return [Image.fromarray(a, mode="RGB") for a in self.shown(trial)]
