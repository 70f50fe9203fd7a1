"""Practice rounds with an accuracy criterion (pure Python).

With ``design.practice_criterion > 0`` the plan holds ``practice_max_rounds`` practice rounds
(``practice_round`` 1, 2, ...). A round runs only while no earlier round reached the criterion; the
trials of skipped rounds get no row, which is the only way rows may leave out a planned trial
(:meth:`psychophysics.datafile.SessionFiles.resume` checks it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psychophysics.design import Trial


def skip_trial(trial: Trial, done: list[dict[str, Any]], criterion: float) -> bool:
    """Whether a planned practice trial is skipped: an earlier practice round reached the criterion.

    ``done`` are the rows written so far (dicts with ``practice_round`` and ``correct``).

    Examples
    --------
    >>> from psychophysics.design import Trial
    >>> t = Trial(0, "practice", 3, 3, "m", "s", "n", "shape", 0, "metamer", 1, 0, practice_round=2)
    >>> skip_trial(t, [{"practice_round": "1", "correct": "1"}, {"practice_round": "1", "correct": "1"}], 0.75)
    True
    """
    if trial.block_type != "practice" or trial.practice_round <= 1 or criterion <= 0:
        return False
    for r in range(1, trial.practice_round):
        acc = round_accuracy(done, r)
        if acc is not None and acc >= criterion:
            return True
    return False


def round_accuracy(done: list[dict[str, Any]], practice_round: int) -> float | None:
    """Proportion correct of one practice round's rows (``None`` if it has none)."""
    got = [int(r["correct"]) for r in done if int(r.get("practice_round") or 0) == practice_round]
    return sum(got) / len(got) if got else None
