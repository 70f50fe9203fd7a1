"""The noise-floor control: trials whose odd item is another render of the *same* target.

On these trials the only difference between the three images is Monte Carlo render noise, so every
observer (human or model) should be at chance (1/3). A proportion correct above chance means the
render noise itself is a cue, and metamer trials' discriminability must be read against it.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"is_noise_floor": [True] * 30, "block_type": ["main"] * 30, "scene_id": ["a"] * 30,
...                   "correct": [1] * 10 + [0] * 20})
>>> row = noise_floor_table(t).iloc[0]
>>> row["scene_id"], int(row["n"]), round(float(row["pc"]), 3), bool(row["p_above_chance"] > 0.3)
('all', 30, 0.333, True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest

CHANCE = 1.0 / 3.0
COLUMNS = ("scene_id", "n", "correct", "pc", "ci_low", "ci_high", "p_above_chance")


def _row(scene: str, correct: np.ndarray) -> dict[str, object]:
    k, n = int(correct.sum()), int(len(correct))
    test = binomtest(k, n, CHANCE, alternative="greater")
    ci = test.proportion_ci(confidence_level=0.95, method="wilson")
    return {"scene_id": scene, "n": n, "correct": k, "pc": k / n, "ci_low": float(ci.low), "ci_high": float(ci.high),
            "p_above_chance": float(test.pvalue)}  # fmt: skip


def noise_floor_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Proportion correct on main-block noise-floor trials, overall (``scene_id = "all"``) and per scene,
    with Wilson 95 % intervals and a one-sided binomial test against chance (these trials only).

    Returns an empty table with the columns when there are no such trials.
    """
    if "is_noise_floor" not in trials or not bool(trials["is_noise_floor"].any()):
        return pd.DataFrame(columns=list(COLUMNS))
    nf = trials[trials["is_noise_floor"].astype(bool) & (trials["block_type"] == "main")]
    if not len(nf):
        return pd.DataFrame(columns=list(COLUMNS))
    correct = pd.to_numeric(nf["correct"], errors="coerce").fillna(0).to_numpy()
    rows = [_row("all", correct)]
    for scene, g in nf.groupby("scene_id", sort=True):
        rows.append(_row(str(scene), pd.to_numeric(g["correct"], errors="coerce").fillna(0).to_numpy()))
    return pd.DataFrame(rows, columns=list(COLUMNS))
