"""When to stop optimising: the step limit, a convergence window, or success.

Success (``stop_on_success``): the mean similarity of the last few steps went a set fraction of the
way from the null reference's maximum to the noise ceiling (the similarity the target scene itself
reaches under the same render noise).

Examples
--------
>>> StopRule(steps=10).check([1.0] * 10, [0.5] * 10, null_max=None)
'max_steps'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class StopRule:
    """When to stop (see the module docstring)."""

    steps: int
    window: int = 0
    tol: float = 1e-3
    stop_on_success: bool = False
    fraction: float = 0.0
    success_window: int = 5

    def threshold(self, null_max: float, ceiling: float | None = None) -> float:
        """Similarity that counts as success: ``null_max + fraction * (ceiling - null_max)``.

        ``ceiling`` is the similarity of fresh renders of the target itself at the optimisation
        spp (render noise keeps it below 1); without one, 1 is used. When the null draws reach the
        ceiling (the model barely sees the group), the threshold is ``null_max``.

        Examples
        --------
        >>> round(StopRule(steps=1, fraction=0.25).threshold(0.80, 0.92), 4)
        0.83
        >>> StopRule(steps=1, fraction=0.25).threshold(0.95, 0.93)
        0.95
        """
        top = 1.0 if ceiling is None or not np.isfinite(ceiling) else float(ceiling)
        return float(null_max + self.fraction * max(0.0, top - null_max))

    def check(
        self, losses: list[float], sims: list[float], null_max: float | None, ceiling: float | None = None
    ) -> str | None:
        """Stop reason after the latest step, or None to go on.

        Success needs the mean similarity of the last ``success_window`` steps (step renders are
        noisy) to reach :meth:`threshold` and to exceed ``null_max``.
        """
        n = self.success_window
        if self.stop_on_success and null_max is not None and np.isfinite(null_max) and len(sims) >= n:
            recent = float(np.mean(sims[-n:]))
            if recent >= self.threshold(null_max, ceiling) and recent > null_max:
                return "success"
        w = self.window
        if w > 0 and len(losses) >= 2 * w:
            recent, before = float(np.mean(losses[-w:])), float(np.mean(losses[-2 * w : -w]))
            if before - recent <= self.tol * abs(before):
                return "converged"
        if len(losses) >= self.steps:
            return "max_steps"
        return None
