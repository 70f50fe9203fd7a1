"""Summaries against plain pandas group-bys and statsmodels' Wilson intervals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from analysis.load import load_sessions
from analysis.oddity import dprime_from_pc
from analysis.summaries import exclusions, per_condition, per_item, per_participant


def test_summaries_match_groupby(sessions: tuple[Path, Path, pd.DataFrame]) -> None:
    store, data, truth = sessions
    a = load_sessions(data, store).analysed
    main = truth[(truth["block_type"] == "main") & (truth["is_catch"] == 0)]
    ref = main.groupby(["group", "model_id"])["correct"].agg(["size", "sum"]).reset_index()
    ref["condition"] = ref["group"] + " / " + ref["model_id"]
    cond = per_condition(a).merge(ref, on=["group", "condition"])
    assert len(cond) == len(ref) == 6
    assert (cond["n"] == cond["size"]).all() and (cond["k"] == cond["sum"]).all()
    np.testing.assert_allclose(cond["pc"], cond["sum"] / cond["size"])
    lo, hi = proportion_confint(cond["k"], cond["n"], method="wilson")
    np.testing.assert_allclose(cond["pc_lo"], lo, atol=1e-12)
    np.testing.assert_allclose(cond["pc_hi"], hi, atol=1e-12)
    np.testing.assert_allclose(cond["dprime"], dprime_from_pc(cond["pc"].to_numpy()))
    assert (cond["n_participants"] == 6).all()

    items = per_item(a)
    ref_items = main.groupby("metamer_id")["correct"].mean()
    np.testing.assert_allclose(items.set_index("item")["pc"].loc[ref_items.index], ref_items)
    assert {"similarity", "distance", "dprime_lo", "dprime_hi"} <= set(items.columns)
    part = per_participant(a).set_index("participant")
    np.testing.assert_allclose(part["pc"], main.groupby("participant")["correct"].mean().loc[part.index])


def test_exclusion_counts(sessions: tuple[Path, Path, pd.DataFrame]) -> None:
    store, data, truth = sessions
    ex = exclusions(load_sessions(data, store).trials).set_index("participant")
    assert ex.loc["all", "trials"] == len(truth)
    assert ex.loc["all", "practice"] == (truth["block_type"] == "practice").sum()
    assert ex.loc["all", "catch"] == truth["is_catch"].sum()
    assert ex.loc["all", "missed"] == (truth["response_key"] == "").sum()
    assert ex.loc["all", "analysed"] + ex.loc["all", "practice"] + ex.loc["all", "catch"] == len(truth)
