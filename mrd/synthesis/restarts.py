"""Restarts: an optimisation the strict criterion refuses starts again from a new start draw.

Gradient descent through renderer and model can settle in a local minimum: a scene the generating
model still tells apart from the target (measured on the demo at 128 px: one material seed settled at
a display distance ratio of 2.7 with the specular at its bound and the metal fraction at 0.15,
``benchmarks/results/time_to_true_metamer_128px_ramp_s1_500.md``). Such a run is no evidence about
the model, and more steps do not leave the basin. With ``[optimize] restarts = N`` an attempt that
ends refused is followed by another from a new draw of the start (seed :meth:`Seeds.start_of`; for an
explicit start, its seed-dependent parts: the shape's jitter, unspecified material fields), with its
own render and check seeds, up to ``N`` times.

An attempt is judged when it ends: a run the experiment mode's checks stopped (``"criterion"``) has
passed (confirmed on fresh renders); any other is judged once on ``criterion.check_renders`` fresh
display renders with one seed shared by every attempt (:attr:`Seeds.attempt_judge`), so that attempts
are compared on the same render noise. The metamer keeps the first attempt that passed, else the one
with the lowest display distance ratio (the earliest of equals); the record lists every attempt
(``info["attempts"]``) and says which was kept. The stored verdict is judged again, as always, on the
record's own display renders.

Examples
--------
>>> a = [Attempt(0, None, {"passed": False, "distance_ratio": 1.3}, {}, {}),
...      Attempt(1, None, {"passed": False, "distance_ratio": 1.1}, {}, {})]
>>> choose(a).attempt
1
>>> choose(a + [Attempt(2, None, {"passed": True, "distance_ratio": 1.2}, {}, {})]).attempt
2
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SUMMARY_KEYS = ("passed", "oddity_pc", "confirm_oddity_pc", "null_p", "confirm_null_p", "beats_start", "distance_ratio")
"""What the record keeps of each attempt's judgement (besides its steps, stop reason and time)."""


@dataclass
class Attempt:
    """One ended attempt of a metamer's optimisation.

    Attributes
    ----------
    attempt : int
        0 for the first, k for the k-th restart.
    run : mrd.synthesis.optimize.Optimization
        Its optimisation (curves, Adam state, checks).
    judged : dict
        ``passed``, ``oddity_pc``, ``null_p``, ``distance_ratio`` of its returned iterate.
    start : dict of str to numpy.ndarray
        The start values it was drawn with.
    snapshots : dict
        Its ``store_progress`` snapshots.
    """

    attempt: int
    run: Any
    judged: dict[str, Any]
    start: dict[str, np.ndarray]
    snapshots: dict[int, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """What the record says of this attempt."""
        r = self.run
        out = {"attempt": self.attempt, "steps": r.step, "stop_reason": r.reason or "max_steps",
               "wall_time_s": round(r.wall_time_s, 3)}  # fmt: skip
        out.update({k: self.judged[k] for k in SUMMARY_KEYS if k in self.judged})
        return out


def choose(attempts: list[Attempt]) -> Attempt:
    """The attempt a metamer keeps: the first that passed, else the lowest distance ratio (earliest of equals)."""
    for a in attempts:
        if a.judged.get("passed"):
            return a

    def ratio(a: Attempt) -> float:
        x = a.judged.get("distance_ratio")
        return math.inf if x is None or not math.isfinite(float(x)) else float(x)

    return min(attempts, key=lambda a: (ratio(a), a.attempt))


def same_start(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Whether two start draws are identical (a fully explicit start has nothing to redraw).

    Examples
    --------
    >>> same_start({"x": np.ones(2)}, {"x": np.ones(2)}), same_start({"x": np.ones(2)}, {"x": np.zeros(2)})
    (True, False)
    """
    return a.keys() == b.keys() and all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)


def restarts_for(optimize: Any, group: str) -> int:
    """The restarts ``[optimize] restarts`` allows a metamer of ``group`` (a number, or a table per group).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> restarts_for(NS(restarts=2), "shape"), restarts_for(NS(restarts={"material": 3}), "shape")
    (2, 0)
    >>> restarts_for(NS(restarts={"material": 3}), "material"), restarts_for(NS(), "material")
    (3, 0)
    """
    r = getattr(optimize, "restarts", 0)
    return int(r.get(group, 0)) if isinstance(r, dict) else int(r)


def end_attempt(m: Any) -> bool:
    """Judge ``m``'s ended attempt and start the next one if it was refused and restarts remain.

    Parameters
    ----------
    m : mrd.synthesis.metamer.Metamer
        A metamer whose current optimisation has ended (stop reason or step cap).

    Returns
    -------
    bool
        True when a new attempt was started (synthesise on); False when the metamer is done, with the
        kept attempt's optimisation as ``m``'s current one.
    """
    run = m._run
    judged = dict(run.checks[-1]) if run.reason == "criterion" and run.checks else m.judge(
        run.values_to_return(), m.seeds.attempt_judge)  # fmt: skip
    m.attempts.append(Attempt(m.attempt, run, judged, m.attempt_start, dict(m.snapshots)))
    restarts = restarts_for(m.settings.optimize, m.group.name)
    if not judged.get("passed") and len(m.attempts) <= restarts:
        start = m.draw_start(len(m.attempts))
        if start is not None and not any(same_start(start, a.start) for a in m.attempts):
            m.begin(start, len(m.attempts))
            return True
        m.restart_note = "no restart: the start has no random part to draw again"
    kept = choose(m.attempts)
    if kept.run is not run:
        m.resume_attempt(kept)
    return False


def restart_info(m: Any) -> dict[str, Any]:
    """What the record of ``m`` says of restarts: the setting, every attempt, the kept one, the steps of all.

    Parameters
    ----------
    m : mrd.synthesis.metamer.Metamer

    Returns
    -------
    dict
        ``restarts``, ``kept_attempt``, ``attempts`` (:meth:`Attempt.summary` each), ``steps_all_attempts``
        and, where restarts were wanted but impossible, ``restart_note``.
    """
    runs = [a.run for a in m.attempts] or [m._run]
    out = {"restarts": restarts_for(m.settings.optimize, m.group.name), "kept_attempt": m.attempt,
           "attempts": [a.summary() for a in m.attempts], "steps_all_attempts": int(sum(r.step for r in runs))}
    if m.restart_note:
        out["restart_note"] = m.restart_note
    return out
