"""Which independent renders a trial shows (pure Python).

A trial shows three *different* renders: two of the repeated item (the standards) and one of the odd
item, all with pairwise different Monte Carlo seeds (a render seed shared by target and metamer would
give two images the same noise), so the only cue is the scene difference. The noise-floor control takes
all three from the same target.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

from stimuli.errors import MRDError


def pick_renders(
    standard: tuple[int, ...], odd: tuple[int, ...] | None, rng: random.Random, what: str
) -> tuple[int, int, int] | None:
    """Render indices ``(standard a, standard b, odd)`` with pairwise different seeds.

    ``standard`` and ``odd`` are the seeds of the two stacks' renders; ``odd = None`` means the odd
    item is another render of the standard stack (noise floor), so all three indices differ. Returns
    ``None`` when the store has no renders (empty ``standard``).

    Raises
    ------
    MRDError
        If the stacks have too few renders for three different ones.

    Examples
    --------
    >>> import random
    >>> a, b, c = pick_renders((10, 11), (10, 12), random.Random(0), "m0")
    >>> a != b and (10, 11)[a] != (10, 12)[c] != (10, 11)[b]
    True
    """
    if not standard:
        return None
    odd_seeds = standard if odd is None else odd
    options = [
        (a, b, c)
        for a, b in itertools.permutations(range(len(standard)), 2)
        for c in range(len(odd_seeds))
        if len({standard[a], standard[b], odd_seeds[c]}) == 3 and (odd is not None or c not in (a, b))
    ]
    if not options:
        need = "3 renders of it" if odd is None else "2 renders of the repeated item and 1 of the other"
        raise MRDError(
            f"{what}: not enough independent renders for a trial of three different images (needs {need} "
            f"with different seeds; the store has {len(standard)} and {len(odd_seeds)}): regenerate the "
            "stimulus set with more display renders per scene (render.display_renders)"
        )
    return rng.choice(options)


def assign_renders(row: dict[str, Any], renders: tuple[int, int, int] | None) -> None:
    """Write ``render_1..3`` into a planned row: the odd render at ``odd_position``, the standards elsewhere.

    Examples
    --------
    >>> row = {"odd_position": 2}
    >>> assign_renders(row, (0, 3, 1)); [row[f"render_{p}"] for p in (1, 2, 3)]
    [0, 1, 3]
    """
    a, b, c = renders if renders is not None else (None, None, None)
    standards = iter((a, b))
    for pos in (1, 2, 3):
        row[f"render_{pos}"] = c if pos == row["odd_position"] else next(standards)
