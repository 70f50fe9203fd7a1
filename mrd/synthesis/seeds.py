"""Every random seed of a metamer, derived in one place from the config's master seed and the ids.

Seeds are sha256-based (:func:`stable_seed`), so the same config gives the same seeds on every
run and machine, and a job's seeds do not depend on which other jobs run or in what order.

Examples
--------
>>> s = Seeds(master=0, scene_id="ball", group="material", model_id="m", seed=0)
>>> s.metamer_id
'ball.material.m.s0'
>>> s.target_features == s.render + 1_000_003
True
>>> s.start_of(0) == s.start != s.start_of(1)
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any


def stable_seed(*parts: Any) -> int:
    """A seed from any printable parts, stable across runs and machines (not Python's ``hash``).

    Examples
    --------
    >>> stable_seed(0, "scene", "material") == stable_seed(0, "scene", "material")
    True
    """
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def scene_display_seed(master: int, scene_id: str, r: int = 0) -> int:
    """Render seed of a target scene's display render ``r`` (render 0 is the stored ``display``)."""
    return stable_seed(master, scene_id, "display") if r == 0 else stable_seed(master, scene_id, "display", r)


@dataclass(frozen=True)
class Seeds:
    """The seeds of one metamer job (scene x group x model x seed).

    Attributes are the seeds of: the null draws' parameters and display renders (shared by every
    model and seed of a scene and group), the start draw, the optimisation renders (and, offset from
    them, the objective's target renders, the noise ceiling and the null features), and the
    metamer's display render.
    """

    master: int
    scene_id: str
    group: str
    model_id: str
    seed: int
    layer: str | None = None

    @property
    def metamer_id(self) -> str:
        """Store key ``scene.group.model.sSEED`` (``....sSEED.layer-NAME`` for a per-layer metamer).

        Per-layer metamers of one job share its start draw (the start seed does not depend on the layer).
        """
        base = f"{self.scene_id}.{self.group}.{self.model_id}.s{self.seed}"
        return base if self.layer is None else f"{base}.layer-{self.layer}"

    @property
    def null_draws(self) -> int:
        return stable_seed(self.master, self.scene_id, self.group, "null")

    @property
    def null_display(self) -> int:
        return stable_seed(self.master, self.scene_id, self.group, "null-display")

    @property
    def start(self) -> int:
        return stable_seed(self.master, self.scene_id, self.group, self.seed, "start")

    @property
    def render(self) -> int:
        """Seed of optimisation step 0 (step ``s`` uses ``render + s * views``)."""
        return stable_seed(self.master, self.metamer_id, "render")

    def start_of(self, attempt: int) -> int:
        """Seed of the start draw of restart ``attempt`` (attempt 0 is :attr:`start`)."""
        return self.start if attempt == 0 else stable_seed(self.master, self.scene_id, self.group, self.seed,
                                                           "start", attempt)  # fmt: skip

    def render_of(self, attempt: int) -> int:
        """Seed of optimisation step 0 of restart ``attempt`` (attempt 0 is :attr:`render`)."""
        return self.render if attempt == 0 else stable_seed(self.master, self.metamer_id, "render", attempt)

    @property
    def attempt_judge(self) -> int:
        """Base seed of the criterion judgement at the end of every attempt (the same for all: paired)."""
        return stable_seed(self.master, self.metamer_id, "attempt-judge")

    @property
    def target_features(self) -> int:
        return self.render + 1_000_003

    @property
    def ceiling(self) -> int:
        return self.render + 3_000_017

    def null_features(self, i: int) -> int:
        """Seed of the optimisation-regime renders of null draw ``i``."""
        return self.render + 2_000_003 + i * 997

    @property
    def display(self) -> int:
        return stable_seed(self.master, self.metamer_id, "display")

    def display_render(self, r: int) -> int:
        """Seed of the metamer's display render ``r`` (render 0 is the stored ``display``)."""
        return self.display if r == 0 else stable_seed(self.master, self.metamer_id, "display", r)

    def start_render(self, r: int) -> int:
        """Seed of display render ``r`` of the start scene (the criterion's "beats its start")."""
        return stable_seed(self.master, self.metamer_id, "start-display", r)

    def check(self, step: int, attempt: int = 0) -> int:
        """Base seed of the criterion check at optimisation step ``step`` of restart ``attempt`` (experiment mode)."""
        if attempt == 0:
            return stable_seed(self.master, self.metamer_id, "check", step)
        return stable_seed(self.master, self.metamer_id, "check", step, "attempt", attempt)

    @property
    def triplets(self) -> int:
        """Seed of the criterion's triplet draw."""
        return stable_seed(self.master, self.metamer_id, "triplets")
