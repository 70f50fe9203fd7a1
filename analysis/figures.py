"""Figures of the analysis as axes-level functions: each draws on a matplotlib ``Axes`` and returns it.

Pass ``ax=`` to draw into a figure of your own, or leave it out to get a new pyplot figure (shown
inline in a notebook). Nothing here selects a backend or writes files: :func:`analysis.report.save_figure`
saves a figure as PNG and SVG when the report is written.

Examples
--------
>>> import pandas as pd
>>> from matplotlib.figure import Figure
>>> items = pd.DataFrame({"group": ["g", "g"], "item": ["a", "b"], "dprime": [0.5, 2.0],
...                       "dprime_lo": [0.0, 1.0], "dprime_hi": [1.0, 3.0]})
>>> ax = plot_item_dprime(items, ax=Figure().subplots())
>>> [t.get_text() for t in ax.get_xticklabels()]
['a', 'b']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.oddity import DPRIME_MAX, GUESS_RATE, pc_from_dprime
from analysis.psychometric import PsychometricFit

DPRIME_TICKS = (0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0)


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]


def colours(keys: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """Distinct colours per key: tab10 up to 10 keys, tab20 up to 20, then evenly spaced hues.

    Examples
    --------
    >>> c = colours([str(i) for i in range(12)])
    >>> len(set(c.values()))
    12
    """
    from matplotlib import colormaps

    keys = list(keys)
    if len(keys) <= 10:
        cmap = colormaps["tab10"]
        return {k: cmap(i) for i, k in enumerate(keys)}
    if len(keys) <= 20:
        cmap = colormaps["tab20"]
        return {k: cmap(i) for i, k in enumerate(keys)}
    cmap = colormaps["hsv"]
    return {k: cmap(i / len(keys)) for i, k in enumerate(keys)}


def add_dprime_axis(ax: Any) -> Any:
    """A right-hand axis labelled in oddity d' at the proportions correct those d' give.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().subplots()
    >>> ax.set_ylim(0, 1)
    (0.0, 1.0)
    >>> add_dprime_axis(ax).get_ylabel()
    "oddity d'"
    """
    right = ax.twinx()
    right.set_ylim(ax.get_ylim())
    right.set_yticks(pc_from_dprime(np.array(DPRIME_TICKS)), [f"{d:g}" for d in DPRIME_TICKS])
    right.set_ylabel("oddity d'")
    return right


def _legend_outside(ax: Any) -> None:
    """Legend to the right of the axes, so it covers no data."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)


def plot_accuracy_vs_distance(
    items: pd.DataFrame, fits: dict[str, PsychometricFit], axes: Sequence[Any] | None = None
) -> list[Any]:
    """Proportion correct per item against model distance, one axes per group, with the fitted function.

    Parameters
    ----------
    items : pandas.DataFrame
        Per-item summary with ``group``, ``distance``, ``pc``, ``pc_lo``, ``pc_hi``.
    fits : dict
        ``{group: PsychometricFit}``.
    axes : sequence of Axes, optional
        One per group (sorted); default: a new figure.

    Returns
    -------
    list of Axes
    """
    groups = sorted(items["group"].dropna().astype(str).unique())
    if axes is None:
        import matplotlib.pyplot as plt

        axes = plt.subplots(1, max(len(groups), 1), figsize=(4.6 * max(len(groups), 1), 3.6), squeeze=False)[
            1
        ][0]
    axes = list(axes)
    for ax, g in zip(axes, groups, strict=False):
        sub = items[items["group"].astype(str) == g]
        ax.errorbar(
            sub["distance"],
            sub["pc"],
            yerr=[sub["pc"] - sub["pc_lo"], sub["pc_hi"] - sub["pc"]],
            fmt="o",
            ms=4,
            alpha=0.7,
            color="C0",
            ecolor="0.7",
            label="items (95% Wilson CI)",
        )
        if g in fits:
            x = np.linspace(0, sub["distance"].max() * 1.05, 200)
            f = fits[g]
            ax.plot(
                x,
                f.predict(x),
                color="C3",
                label=f"Weibull: alpha={f.alpha:.3g}, beta={f.beta:.2g}, lapse={f.lapse:.2f}",
            )
        ax.axhline(GUESS_RATE, ls=":", color="0.4", label="chance (1/3)")
        ax.set_title(g)
        ax.set_xlabel("model distance (1 - cosine)")
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("proportion correct")
        add_dprime_axis(ax)
        ax.legend(fontsize=6, loc="lower right")
    return axes


def plot_item_dprime(items: pd.DataFrame, ax: Any = None, by: str = "group") -> Any:
    """Oddity d' per item with its interval, sorted within ``by`` (colour), items labelled on the x axis.

    Parameters
    ----------
    items : pandas.DataFrame
        Per-item summary with ``item``, ``by``, ``dprime``, ``dprime_lo``, ``dprime_hi``.
    ax : Axes, optional
    by : str
        Column that colours the items (``group``; ``condition`` where that is all there is).

    Returns
    -------
    Axes
    """
    by = by if by in items else "condition"
    df = (
        items.assign(_k=items[by].astype(str))
        .sort_values(["_k", "dprime"], kind="stable")
        .reset_index(drop=True)
    )
    keys = list(dict.fromkeys(df["_k"]))
    col = colours(keys)
    ax = _axes(ax, (max(6.0, 0.14 * len(df) + 3), 4.2))
    for g in keys:
        sub = df[df["_k"] == g]
        ax.errorbar(
            sub.index,
            sub["dprime"],
            yerr=[sub["dprime"] - sub["dprime_lo"], sub["dprime_hi"] - sub["dprime"]],
            fmt="o",
            ms=3,
            color=col[g],
            ecolor=col[g],
            alpha=0.85,
            label=g,
        )
    ax.axhline(DPRIME_MAX, ls="--", lw=0.8, color="0.5", label=f"cap (d' = {DPRIME_MAX:g})")
    ax.set_xlabel(f"item (sorted by d' within {by})")
    ax.set_ylabel("oddity d' (95% CI from the Wilson bounds)")
    ax.set_xticks(
        df.index, df["item"].astype(str), rotation=90, fontsize=max(3, min(7, 600 // max(len(df), 1)))
    )
    ax.set_xlim(-1, len(df))
    _legend_outside(ax)
    return ax


def plot_model_vs_human(compare: pd.DataFrame, sigma: float, ax: Any = None) -> Any:
    """Human against model-observer proportion correct per item (same trials), identity line.

    Parameters
    ----------
    compare : pandas.DataFrame
        Output of :func:`analysis.observer.compare_items`.
    sigma : float
        The observer's noise (for the axis label).
    ax : Axes, optional

    Returns
    -------
    Axes
    """
    keys = sorted(compare["group"].astype(str).unique())
    col = colours(keys)
    ax = _axes(ax, (5.6, 4.2))
    for g in keys:
        sub = compare[compare["group"].astype(str) == g]
        ax.errorbar(
            sub["model_pc"],
            sub["human_pc"],
            yerr=[sub["human_pc"] - sub["human_pc_lo"], sub["human_pc_hi"] - sub["human_pc"]],
            fmt="o",
            ms=4,
            color=col[g],
            ecolor="0.75",
            alpha=0.85,
            label=g,
        )
    ax.plot([0, 1], [0, 1], color="0.3", lw=1)
    ax.axhline(GUESS_RATE, ls=":", color="0.5")
    ax.axvline(GUESS_RATE, ls=":", color="0.5")
    ax.set_xlim(0.25, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"model observer proportion correct (sigma = {sigma:.3g})")
    ax.set_ylabel("human proportion correct")
    _legend_outside(ax)
    return ax


def plot_conditions(
    conditions: pd.DataFrame, hierarchical: pd.DataFrame | None = None, ax: Any = None
) -> Any:
    """Proportion correct per condition (d' on the right axis): pooled Wilson intervals and, when given,
    the mixed model's intervals over participants and items beside them.

    Parameters
    ----------
    conditions : pandas.DataFrame
        Per-condition summary (``condition``, ``pc``, ``pc_lo``, ``pc_hi``).
    hierarchical : pandas.DataFrame, optional
        ``condition`` with ``pc_glmm``, ``pc_glmm_lo``, ``pc_glmm_hi`` (and/or ``pc_boot_lo/hi``).
    ax : Axes, optional

    Returns
    -------
    Axes

    Examples
    --------
    >>> import pandas as pd
    >>> from matplotlib.figure import Figure
    >>> c = pd.DataFrame({"condition": ["a", "b"], "pc": [0.5, 0.8], "pc_lo": [0.4, 0.7], "pc_hi": [0.6, 0.9]})
    >>> plot_conditions(c, ax=Figure().subplots()).get_ylabel()
    'proportion correct'
    """
    df = conditions.reset_index(drop=True)
    x = np.arange(len(df))
    ax = _axes(ax, (max(5.5, 0.5 * len(df) + 2.5), 4.0))
    ax.errorbar(
        x - 0.12,
        df["pc"],
        yerr=[df["pc"] - df["pc_lo"], df["pc_hi"] - df["pc"]],
        fmt="o",
        color="C0",
        label="pooled trials, 95% Wilson (these trials only)",
    )
    if hierarchical is not None and len(hierarchical) and "pc_glmm" in hierarchical:
        h = df[["condition"]].merge(hierarchical, on="condition", how="left")
        ax.errorbar(
            x + 0.12,
            h["pc_glmm"],
            yerr=[h["pc_glmm"] - h["pc_glmm_lo"], h["pc_glmm_hi"] - h["pc_glmm"]],
            fmt="s",
            ms=4,
            color="C3",
            label="mixed model, 95% (over participants and items)",
        )
    ax.axhline(GUESS_RATE, ls=":", color="0.4", label="chance (1/3)")
    ax.set_xticks(x, df["condition"].astype(str), rotation=60, ha="right", fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("proportion correct")
    add_dprime_axis(ax)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.35), frameon=False)
    return ax


def plot_power(power: pd.DataFrame, ax: Any = None, effect: str = "") -> Any:
    """Power (with its binomial 95% interval) against participants, one line per repeats (x items) setting.

    Parameters
    ----------
    power : pandas.DataFrame
        ``participants, repeats, items, power, power_lo, power_hi`` (from :mod:`analysis.power`).
    ax : Axes, optional
    effect : str
        Description of the effect, for the title.

    Returns
    -------
    Axes
    """
    ax = _axes(ax, (5.6, 4.0))
    keys = power[["repeats", "items"]].drop_duplicates().itertuples(index=False)
    for i, (reps, n_items) in enumerate(keys):
        sub = power[(power["repeats"] == reps) & (power["items"] == n_items)].sort_values("participants")
        ax.errorbar(
            sub["participants"],
            sub["power"],
            yerr=[sub["power"] - sub["power_lo"], sub["power_hi"] - sub["power"]],
            fmt="o-",
            ms=4,
            capsize=2,
            color=f"C{i % 10}",
            label=f"{reps} repeats x {n_items} items",
        )
    ax.axhline(0.8, ls=":", color="0.5", label="80%")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("participants")
    ax.set_ylabel("power (share of simulated studies detecting the effect)")
    if effect:
        ax.set_title(effect, fontsize=9)
    _legend_outside(ax)
    return ax


def plot_contact_sheet(
    stimuli: str | os.PathLike[str], items: pd.DataFrame, trials: pd.DataFrame, n: int = 4, axes: Any = None
) -> Any:
    """Target and metamer display images of the ``n`` easiest and ``n`` hardest metamers.

    Easiest = highest human proportion correct, hardest = lowest. Each row shows the target scene and
    the metamer at the view most often shown for that metamer.

    Parameters
    ----------
    stimuli : path-like
        The stimulus set.
    items : pandas.DataFrame
        Per-item summary (``item`` = metamer id, ``pc``, ``n``, ``group``).
    trials : pandas.DataFrame
        Analysed trials (for the views shown).
    n : int
        Metamers per end.
    axes : numpy.ndarray of Axes, optional
        ``(2 n, 2)`` grid (fewer rows with fewer items); default: a new figure.

    Returns
    -------
    numpy.ndarray of Axes
    """
    from stimuli import StimulusSet

    ranked = items.sort_values(["pc", "n"], ascending=[False, False])
    k = min(n, len(ranked) // 2) if len(ranked) > 1 else len(ranked)
    chosen = [("easiest", r) for _, r in ranked.head(k).iterrows()]
    chosen += [("hardest", r) for _, r in ranked.tail(k).iloc[::-1].iterrows()]
    if axes is None:
        import matplotlib.pyplot as plt

        axes = plt.subplots(max(len(chosen), 1), 2, figsize=(4.0, 2.0 * max(len(chosen), 1)), squeeze=False)[
            1
        ]
    with StimulusSet(stimuli) as s:
        for row_axes, (label, r) in zip(axes, chosen, strict=False):
            probe = str(r["item"]) in s.probe_ids  # a probe unit (mrd probe) shown as the odd item
            rec = s.probe(str(r["item"])) if probe else s.metamer(str(r["item"]), images=False)
            uid = rec.probe_id if probe else rec.metamer_id
            views = pd.to_numeric(trials.loc[trials["item"] == r["item"], "view"], errors="coerce").dropna()
            view = int(views.mode().iloc[0]) if len(views) else 0
            shown = rec.display if probe else s.metamer_display(uid)
            target, metamer = s.scene_display(rec.scene_id)[view], shown[view]
            for ax, img, title in (
                (row_axes[0], target, f"target {rec.scene_id}"),
                (row_axes[1], metamer, uid),
            ):
                ax.imshow(img, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(title, fontsize=7)
            row_axes[0].set_ylabel(f"{label}\npc={r['pc']:.2f} (n={int(r['n'])})\n{rec.group}", fontsize=7)
    for ax in np.asarray(axes).ravel()[2 * len(chosen) :]:
        ax.axis("off")
    return axes
