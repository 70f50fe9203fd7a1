"""Writing an analysis to disk: tables (CSV with headers, integers kept), figures (PNG + SVG), report, JSON.

Figures are drawn by the axes-level functions of :mod:`analysis.figures` on figures made here
(:class:`matplotlib.figure.Figure`, no pyplot state, no backend switch) and saved with
:func:`analysis.report.save_figure`.

Examples
--------
>>> import pandas as pd
>>> integer_columns(pd.DataFrame({"a": [1.0, None], "b": [0.5, 1.0]})).dtypes.astype(str).tolist()
['Int64', 'float64']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.controls import noise_floor_table
from analysis.report import save_figure, write_report
from stimuli.csvsafe import safe_frame

if TYPE_CHECKING:
    from analysis.api import AnalysisResult


def integer_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Float columns whose values are all whole numbers (or missing) become nullable integers.

    A column such as ``response`` with missed responses is read as float (``2.0``); written back it
    should read ``2``.
    """
    out = df.copy()
    for col in out.columns:
        v = out[col]
        if pd.api.types.is_float_dtype(v) and v.notna().any():
            x = v.to_numpy(float)
            ok = np.isfinite(x) | np.isnan(x)
            finite = x[np.isfinite(x)]
            if ok.all() and np.all(finite == np.round(finite)) and np.all(np.abs(finite) < 2**53):
                out[col] = v.astype("Int64")
    return out


def _wide_pc(pcond: pd.DataFrame) -> pd.DataFrame:
    """Participants as rows, conditions as columns, pc (n) as cells, in natural order."""
    if len(pcond) == 0 or "condition" not in pcond:
        return pd.DataFrame(columns=["participant"])
    cell = pcond.assign(cell=[f"{p:.3f} ({n})" for p, n in zip(pcond["pc"], pcond["n"], strict=True)])
    conds = list(dict.fromkeys(cell["condition"]))
    parts = list(
        dict.fromkeys(
            cell.sort_values("participant", key=lambda s: s.map(_natural), kind="stable")["participant"]
        )
    )
    wide = cell.pivot_table(index="participant", columns="condition", values="cell", aggfunc="first")
    return wide.reindex(index=parts, columns=conds).reset_index()


def _natural(v: object) -> tuple:
    from analysis.summaries import natural_key

    return natural_key(v)


def write_outputs(result: AnalysisResult, out: Path) -> list[Path]:
    """Write tables (CSV), figures (PNG, SVG), ``report.html`` and ``analysis.json`` under ``out``.

    Parameters
    ----------
    result : AnalysisResult
    out : pathlib.Path
        Output folder (created).

    Returns
    -------
    list of pathlib.Path
    """
    from matplotlib.figure import Figure

    from analysis import figures

    out.mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(exist_ok=True)
    files: list[Path] = []
    tables_out = dict(result.tables())
    noise_floor = noise_floor_table(result.data.trials)
    if len(noise_floor):
        tables_out["noise_floor"] = noise_floor
    for name, df in tables_out.items():
        path = out / "tables" / f"{name}.csv"
        safe_frame(integer_columns(df)).to_csv(path, index=False)  # no cell runs as a spreadsheet formula
        files.append(path)
    figs: dict[str, tuple[Path, str]] = {}
    fdir = out / "figures"
    src = result.data.source

    def new(w: float, h: float, rows: int = 1, cols: int = 1) -> tuple[Figure, object]:
        fig = Figure(figsize=(w, h))
        return fig, fig.subplots(rows, cols, squeeze=False)

    if len(result.psychometric_fits):
        ng = max(result.items["group"].nunique(), 1)
        fig, axes = new(4.8 * ng, 3.8, 1, ng)
        figures.plot_accuracy_vs_distance(result.items, result.psychometric_fits, axes=axes[0])
        fig.tight_layout()
        paths = save_figure(fig, fdir / "accuracy_vs_distance")
        figs["Accuracy against model distance"] = (
            paths[0],
            "Per item proportion correct (95% Wilson, these trials only) with Weibull fits per group; "
            "d' on the right axis.",
        )
        files += paths
    fig, axes = new(max(5.5, 0.5 * len(result.conditions) + 2.5), 4.2)
    figures.plot_conditions(result.conditions, result.condition_effects, ax=axes[0][0])
    paths = save_figure(fig, fdir / "accuracy_by_condition")
    figs["Accuracy by condition"] = (
        paths[0],
        "Proportion correct per condition (d' on the right axis): pooled trials with 95% Wilson intervals "
        "(these trials only) and, where fitted, the mixed model's 95% intervals over participants and items.",
    )
    files += paths
    fig, axes = new(max(6.0, 0.14 * len(result.items) + 3), 4.4)
    figures.plot_item_dprime(result.items, ax=axes[0][0])
    paths = save_figure(fig, fdir / "item_dprime")
    figs["Item d'"] = (
        paths[0],
        "Oddity d' per item with intervals from the Wilson bounds (these trials only).",
    )
    files += paths
    if result.sigma is not None and len(result.observer_items):
        fig, axes = new(5.8, 4.2)
        figures.plot_model_vs_human(result.observer_items, result.sigma.sigma, ax=axes[0][0])
        paths = save_figure(fig, fdir / "model_vs_human")
        figs["Model observer vs humans"] = (paths[0], "Per item, on the same trials.")
        files += paths
    if src.get("kind") == "sessions" and len(result.items):
        k = min(4, len(result.items) // 2) if len(result.items) > 1 else 1
        fig, axes = new(4.0, 2.0 * 2 * k, 2 * k, 2)
        figures.plot_contact_sheet(src["stimuli"], result.items, result.data.analysed, n=4, axes=axes)
        paths = save_figure(fig, fdir / "contact_sheet")
        figs["Easiest and hardest metamers"] = (paths[0], "Target and metamer at the view most often shown.")
        files += paths
    if result.mixed is not None and (result.mixed.effects["method"] == "glmm-bayes").any():
        from analysis.bayes_report import plot_bayes_vs_laplace

        n_fixed = result.mixed.effects.loc[result.mixed.effects["kind"] == "fixed", "term"].nunique()
        fig, axes = new(6.4, 1.2 + 0.35 * max(n_fixed, 2))
        plot_bayes_vs_laplace(result.mixed.effects, ax=axes[0][0])
        paths = save_figure(fig, fdir / "bayes_vs_laplace")
        figs["Mixed model: Bayesian and Laplace fixed effects"] = (
            paths[0],
            "Fixed effects of the same model: PyMC posterior means with credible intervals (red) beside the "
            "Laplace estimates with 95% Wald intervals (blue).",
        )
        files += paths
    tables: dict[str, tuple[pd.DataFrame, str]] = {
        "Conditions, pooled trials (Wilson intervals: these trials only)": (
            result.conditions,
            "summary_conditions.csv",
        ),
        "Conditions over participants and items (cluster bootstrap; mixed model)": (
            result.condition_effects,
            "condition_effects.csv",
        ),
    }
    if len(result.dprime_contrasts):
        tables["Differences in d' between conditions (mixed model)"] = (
            result.dprime_contrasts,
            "dprime_contrasts.csv",
        )
    if result.mixed is not None:
        tables["Mixed model effects"] = (result.mixed.effects, "mixed_effects.csv")
        if result.mixed.bayes is not None:
            from analysis.bayes_report import heading

            tables[heading(result.mixed.bayes)] = (result.mixed.bayes.report_table(), "mixed_bayes.csv")
    if len(noise_floor):
        tables["Noise-floor control: odd item = another render of the target (chance 1/3; these trials only)"] = (
            noise_floor,
            "noise_floor.csv",
        )
    tables["Proportion correct (n) per participant x condition"] = (
        _wide_pc(result.participant_conditions),
        "summary_participant_conditions.csv",
    )
    tables["Exclusions and trial counts"] = (result.exclusions, "exclusions.csv")
    tables["Sessions"] = (result.data.sessions, "sessions.csv")
    if len(result.psychometric):
        tables["Psychometric functions"] = (result.psychometric, "psychometric.csv")
    if len(result.correlations):
        tables["Item d' vs similarity (Spearman)"] = (result.correlations, "correlations.csv")
    if result.sigma is not None:
        tables["Model observer"] = (result.sigma.table(), "observer_sigma.csv")
    tables["Participants"] = (result.participants, "summary_participants.csv")
    tables["Items"] = (result.items, "summary_items.csv")
    if src.get("stimuli"):  # probe units (mrd probe): eigendistortion and MAD sections
        from analysis.probes import probe_sections

        ptables, pfigs = probe_sections(result.data.analysed, src["stimuli"], fdir)
        for heading, (df, name) in ptables.items():
            safe_frame(df).to_csv(out / "tables" / name, index=False)
            files.append(out / "tables" / name)
            tables[heading] = (df, name)
        figs.update(pfigs)
        files += [p for p, _ in pfigs.values()]
    notes = result.mixed.notes if result.mixed is not None else []
    files.append(write_report(out / "report.html", "Oddity analysis", result.methods, tables, figs, notes))
    meta = {
        "source": src,
        "condition_cols": result.data.condition_cols,
        "methods": result.methods,
        "mixed_formula": result.mixed.formula if result.mixed else None,
        "mixed_random": result.mixed.random_terms if result.mixed else None,
        "mixed_link": result.mixed.link if result.mixed else None,
        "standardisation": result.mixed.standardisation if result.mixed else None,
        "files": [p.relative_to(out).as_posix() for p in files],
    }
    (out / "analysis.json").write_text(json.dumps(meta, indent=2, default=str))
    files.append(out / "analysis.json")
    return files
