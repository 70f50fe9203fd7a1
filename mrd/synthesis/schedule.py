"""The schedule of an optimisation: learning-rate decay, spp ramp, returned iterate, criterion checks.

:class:`Schedule` holds the settings (``[optimize]``: ``lr_decay``, ``spp_final``, ``iterate``,
``step_per_view``, ``remesh_lr_factor``; ``[criterion]``: ``check_every``, ``passes``);
:class:`IterateAverage` the Polyak window of ``iterate = "average"``. Used by
:class:`mrd.synthesis.optimize.Optimization`.

Examples
--------
>>> Schedule().info()
{'lr_decay': 'none', 'iterate': 'last'}
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Schedule:
    """Learning-rate decay, spp ramp, returned iterate and criterion checks of an optimisation.

    The default (constant rate, fixed spp, last iterate, no checks) is the plain loop.

    Examples
    --------
    >>> s = Schedule(decay="cosine", final_fraction=0.1)
    >>> [round(s.lr_at(1.0, k, 11), 3) for k in (0, 5, 10)]
    [1.0, 0.55, 0.1]
    >>> Schedule(decay="halving").lr_at(1.0, 80, 100)
    0.25
    >>> Schedule(spp_final=16).spp_at(4, 10, 11)
    16
    >>> Schedule(spp_final=16).spp_levels(4), Schedule(spp_final=16).spp_at(4, 6, 11)
    ([4, 8, 16], 8)
    """

    decay: str = "none"
    final_fraction: float = 0.1
    iterate: str = "last"
    spp_final: int = 0
    check_every: int = 0
    average_window: int = 20
    passes: int = 1
    per_view: bool = False
    remesh_lr_factor: float = 1.0

    @classmethod
    def from_settings(cls, settings: Any) -> Schedule:
        """The schedule ``[optimize]`` and ``[criterion]`` of ``settings`` describe (checks in the experiment mode).

        Examples
        --------
        >>> from mrd.config import SynthesisSettings
        >>> Schedule.from_settings(SynthesisSettings(optimize={"mode": "experiment", "steps": 50})).check_every
        5
        """
        o, crit = settings.optimize, getattr(settings, "criterion", None)
        experiment = getattr(o, "mode", "demo") == "experiment"
        check_every = (crit.check_every or max(1, o.steps // 10)) if experiment and crit is not None else 0
        return cls(decay=getattr(o, "lr_decay", "none"), final_fraction=getattr(o, "lr_final_fraction", 0.1),
                   iterate=getattr(o, "iterate", "last"), spp_final=getattr(o, "spp_final", 0),
                   average_window=getattr(o, "average_window", 20), check_every=check_every,
                   passes=getattr(crit, "passes", 1), per_view=getattr(o, "step_per_view", False),
                   remesh_lr_factor=getattr(o, "remesh_lr_factor", 1.0))  # fmt: skip

    def lr_at(self, lr: float, step: int, steps: int) -> float:
        """The learning rate of ``step`` (0-based) of ``steps``."""
        t = step / max(steps - 1, 1)
        if self.decay == "cosine":
            f = self.final_fraction
            return float(lr * (f + (1.0 - f) * 0.5 * (1.0 + np.cos(np.pi * t))))
        if self.decay == "halving":
            return float(lr * (0.5 if t >= 0.5 else 1.0) * (0.5 if t >= 0.75 else 1.0))
        return float(lr)

    def spp_levels(self, spp: int) -> list[int]:
        """The sample counts a ramp from ``spp`` uses: doublings of ``spp`` up to ``spp_final``.

        Few levels, because the objective's target is re-rendered at each one (a target at another
        spp than the step's renders biases the optimum: the model's activations of noisy renders are
        shifted, not only spread, by the noise; ``benchmarks/results/activation_noise.md``).
        """
        if self.spp_final <= spp:
            return [spp]
        levels = [spp]
        while levels[-1] * 2 < self.spp_final:
            levels.append(levels[-1] * 2)
        return [*levels, self.spp_final]

    def spp_at(self, spp: int, step: int, steps: int) -> int:
        """Samples per pixel of ``step``: a linear ramp to ``spp_final`` (when set), snapped down to a level."""
        if self.spp_final <= 0:
            return spp
        t = step / max(steps - 1, 1)
        ramp = spp + (self.spp_final - spp) * t
        return max(v for v in self.spp_levels(spp) if v <= ramp + 1e-9)

    def info(self) -> dict[str, Any]:
        """What is recorded with the metamer."""
        out: dict[str, Any] = {"lr_decay": self.decay, "iterate": self.iterate}
        if self.iterate == "average":
            out["average_window"] = self.average_window
        if self.decay == "cosine":
            out["lr_final_fraction"] = self.final_fraction
        if self.spp_final:
            out["spp_final"] = self.spp_final
        if self.check_every:
            out["check_every"] = self.check_every
            out["passes"] = self.passes
        if self.per_view:
            out["step_per_view"] = True
        if self.remesh_lr_factor != 1.0:
            out["remesh_lr_factor"] = self.remesh_lr_factor
        return out


class IterateAverage:
    """The mean of the last ``window`` iterates (Polyak averaging of the physical values).

    Float arrays are averaged; anything else (a mesh's faces) is the newest iterate's. A remesh
    (:meth:`restart`), or an iterate whose arrays change shape, restarts the window.

    Examples
    --------
    >>> w = IterateAverage(2)
    >>> for x in (1.0, 2.0, 4.0):
    ...     w.add({"a": np.array([x]), "faces": np.array([[0, 1, 2]])})
    >>> w.mean()["a"].tolist(), len(w)
    ([3.0], 2)
    >>> w.add({"a": np.array([1.0, 1.0]), "faces": np.array([[0, 1, 2]])}); len(w)
    1
    """

    def __init__(self, window: int) -> None:
        self._items: deque[dict[str, np.ndarray]] = deque(maxlen=int(window))

    def __len__(self) -> int:
        return len(self._items)

    def restart(self) -> None:
        """Forget the iterates so far (the group's representation changed)."""
        self._items.clear()

    def add(self, values: dict[str, np.ndarray]) -> None:
        """Append an iterate (dropping the oldest beyond the window; restarting on a shape change)."""
        values = {k: np.array(v, copy=True) for k, v in values.items()}
        if self._items and any(np.shape(values[k]) != np.shape(v) for k, v in self._items[-1].items()):
            self._items.clear()
        self._items.append(values)

    def mean(self) -> dict[str, np.ndarray]:
        """The window's mean (float arrays, in their dtype) with the newest iterate's other entries."""
        last = self._items[-1]
        out = {}
        for k, v in last.items():
            if np.issubdtype(np.asarray(v).dtype, np.floating):
                out[k] = np.mean([it[k] for it in self._items], axis=0).astype(np.asarray(v).dtype)
            else:
                out[k] = np.array(v, copy=True)
        return out
