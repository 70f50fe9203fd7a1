"""Figures of the analysis (matplotlib, Agg backend), each saved as PNG and SVG.

Examples
--------
>>> import tempfile, pathlib, pandas as pd
>>> items = pd.DataFrame({"group": ["g", "g"], "item": ["a", "b"], "dprime": [0.5, 2.0],
...                       "dprime_lo": [0.0, 1.0], "dprime_hi": [1.0, 3.0]})
>>> paths = plot_item_dprime(items, pathlib.Path(tempfile.mkdtemp()) / "item_dprime")
>>> [p.suffix for p in paths]
['.png', '.svg']
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.oddity import DPRIME_MAX, GUESS_RATE  # noqa: E402
from analysis.psychometric import PsychometricFit  # noqa: E402

plt.rcParams["svg.hashsalt"] = "mrd-analysis"


def _save(fig: plt.Figure, stem: Path) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    fig.savefig(png, dpi=130, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(svg, bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return [png, svg]


def _colours(keys: list[str]) -> dict[str, tuple[float, ...]]:
    cmap = plt.get_cmap("tab10")
    return {k: cmap(i % 10) for i, k in enumerate(keys)}


def plot_accuracy_vs_distance(
    items: pd.DataFrame, fits: dict[str, PsychometricFit], stem: Path
) -> list[Path]:
    """Proportion correct per item against model distance, one panel per group, with the fitted function.

    Parameters
    ----------
    items : pandas.DataFrame
        Per-item summary with ``group``, ``distance``, ``pc``, ``pc_lo``, ``pc_hi``, ``n``.
    fits : dict
        ``{group: PsychometricFit}``.
    stem : pathlib.Path
        Output path without suffix.

    Returns
    -------
    list of pathlib.Path
        The PNG and SVG files.
    """
    groups = sorted(items["group"].dropna().unique())
    fig, axes = plt.subplots(
        1, max(len(groups), 1), figsize=(4.2 * max(len(groups), 1), 3.6), squeeze=False, sharey=True
    )
    for ax, g in zip(axes[0], groups, strict=False):
        sub = items[items["group"] == g]
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
                label=f"Weibull fit: alpha={f.alpha:.3g}, beta={f.beta:.2g}, lapse={f.lapse:.2f}",
            )
        ax.axhline(GUESS_RATE, ls=":", color="0.4", label="chance (1/3)")
        ax.set_title(str(g))
        ax.set_xlabel("model distance (1 - cosine)")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("proportion correct")
    return _save(fig, stem)


def plot_item_dprime(items: pd.DataFrame, stem: Path) -> list[Path]:
    """Oddity d' per item with its interval, sorted within group (colour = group).

    Parameters
    ----------
    items : pandas.DataFrame
        Per-item summary with ``item``, ``group``, ``dprime``, ``dprime_lo``, ``dprime_hi``.
    stem : pathlib.Path
        Output path without suffix.

    Returns
    -------
    list of pathlib.Path
    """
    df = items.sort_values(["group", "dprime"]).reset_index(drop=True)
    colours = _colours(sorted(df["group"].astype(str).unique()))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.12 * len(df) + 2), 3.6))
    for g, sub in df.groupby(df["group"].astype(str)):
        ax.errorbar(
            sub.index,
            sub["dprime"],
            yerr=[sub["dprime"] - sub["dprime_lo"], sub["dprime_hi"] - sub["dprime"]],
            fmt="o",
            ms=3,
            color=colours[g],
            ecolor=colours[g],
            alpha=0.8,
            label=g,
        )
    ax.axhline(DPRIME_MAX, ls="--", lw=0.8, color="0.5", label=f"cap (d' = {DPRIME_MAX:g})")
    ax.set_xlabel("item (sorted within group)")
    ax.set_ylabel("oddity d'")
    ax.set_xticks([])
    ax.legend(fontsize=7)
    return _save(fig, stem)


def plot_model_vs_human(compare: pd.DataFrame, stem: Path, sigma: float) -> list[Path]:
    """Human against model-observer proportion correct per item, same trials, identity line.

    Parameters
    ----------
    compare : pandas.DataFrame
        Output of :func:`analysis.observer.compare_items`.
    stem : pathlib.Path
        Output path without suffix.
    sigma : float
        The observer's noise (for the title).

    Returns
    -------
    list of pathlib.Path
    """
    colours = _colours(sorted(compare["group"].astype(str).unique()))
    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    for g, sub in compare.groupby(compare["group"].astype(str)):
        ax.errorbar(
            sub["model_pc"],
            sub["human_pc"],
            yerr=[sub["human_pc"] - sub["human_pc_lo"], sub["human_pc_hi"] - sub["human_pc"]],
            fmt="o",
            ms=4,
            color=colours[g],
            ecolor="0.75",
            alpha=0.8,
            label=g,
        )
    ax.plot([0, 1], [0, 1], color="0.3", lw=1)
    ax.axhline(GUESS_RATE, ls=":", color="0.5")
    ax.axvline(GUESS_RATE, ls=":", color="0.5")
    ax.set_xlim(0.25, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"model observer proportion correct (sigma = {sigma:.3g})")
    ax.set_ylabel("human proportion correct")
    ax.legend(fontsize=7)
    return _save(fig, stem)


def plot_conditions(conditions: pd.DataFrame, stem: Path) -> list[Path]:
    """Proportion correct (and d' on the right axis) per condition with Wilson intervals.

    Parameters
    ----------
    conditions : pandas.DataFrame
        Per-condition summary (``condition``, ``pc``, ``pc_lo``, ``pc_hi``).
    stem : pathlib.Path
        Output path without suffix.

    Returns
    -------
    list of pathlib.Path
    """
    df = conditions.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(max(4.5, 0.45 * len(df) + 1.5), 3.8))
    ax.errorbar(
        df.index, df["pc"], yerr=[df["pc"] - df["pc_lo"], df["pc_hi"] - df["pc"]], fmt="o", color="C0"
    )
    ax.axhline(GUESS_RATE, ls=":", color="0.4")
    ax.set_xticks(df.index, df["condition"].astype(str), rotation=60, ha="right", fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("proportion correct (95% Wilson CI)")
    return _save(fig, stem)


def plot_contact_sheet(
    stimuli: str | os.PathLike[str], items: pd.DataFrame, trials: pd.DataFrame, stem: Path, n: int = 4
) -> list[Path]:
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
    stem : pathlib.Path
        Output path without suffix.
    n : int
        Metamers per end.

    Returns
    -------
    list of pathlib.Path
    """
    from stimuli import StimulusSet

    ranked = items.sort_values(["pc", "n"], ascending=[False, False])
    k = min(n, len(ranked) // 2) if len(ranked) > 1 else len(ranked)
    chosen = [("easiest", r) for _, r in ranked.head(k).iterrows()]
    chosen += [("hardest", r) for _, r in ranked.tail(k).iloc[::-1].iterrows()]
    fig, axes = plt.subplots(max(len(chosen), 1), 2, figsize=(4.0, 2.0 * max(len(chosen), 1)), squeeze=False)
    with StimulusSet(stimuli) as s:
        for row_axes, (label, r) in zip(axes, chosen, strict=False):
            rec = s.metamer(str(r["item"]), images=False)
            views = pd.to_numeric(trials.loc[trials["item"] == r["item"], "view"], errors="coerce").dropna()
            view = int(views.mode().iloc[0]) if len(views) else 0
            target, metamer = s.scene_display(rec.scene_id)[view], s.metamer_display(rec.metamer_id)[view]
            for ax, img, title in (
                (row_axes[0], target, f"target {rec.scene_id}"),
                (row_axes[1], metamer, f"{rec.metamer_id}"),
            ):
                ax.imshow(img, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(title, fontsize=7)
            row_axes[0].set_ylabel(f"{label}\npc={r['pc']:.2f} (n={int(r['n'])})\n{rec.group}", fontsize=7)
    for ax in axes.ravel()[2 * len(chosen) :]:
        ax.axis("off")
    return _save(fig, stem)
