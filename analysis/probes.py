"""Oddity results on probe stimuli: eigendistortion sensitivity and the verdict of MAD competition.

Sessions run with ``design.stimuli = "probes"`` show probe units (:mod:`stimuli.probes_io`) as the
odd item against their target's renders (``metamer_id`` of a trial = the probe id). This module
joins the analysed trials (main blocks, non-catch) with the probes and gives:

* :func:`eigen_table`: proportion correct with a Wilson interval per (group, model, direction,
  |step|): along the most sensitive direction of a model the human should see a change sooner
  than along the least sensitive one, if the model's sensitivity is the human's;
* :func:`mad_table`: per (scene, group, model pair) the proportion correct on the scenes that
  pushed A while B was held (``A_max``) minus that on the scenes that pushed B while A was held
  (``B_max``), with a percentile bootstrap interval over participants (trials resampled within
  them). A positive interval: human discrimination follows model A (the change A predicted, and B
  denied, was seen more often); negative: it follows B; an interval covering 0: undecided.
* :func:`probe_figures`: eigenvalue spectra, and the renders of each rendered direction.

Examples
--------
>>> lo, hi = wilson(15, 20)
>>> round(lo, 3), round(hi, 3)
(0.531, 0.888)
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 % by default)."""
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    c = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    m = (p + z * z / (2 * n)) / (1 + z * z / n)
    return m - c, m + c


def probe_frame(stimuli: str | Path) -> pd.DataFrame:
    """One row per probe unit of a stimulus set (no images).

    Examples
    --------
    >>> import tempfile, os
    >>> from stimuli.testing import write_synthetic_store
    >>> path = os.path.join(tempfile.mkdtemp(), "s.h5")
    >>> _ = write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=1)
    >>> len(probe_frame(path))
    0
    """
    from stimuli import StimulusSet

    rows = []
    with StimulusSet(stimuli) as s:
        for pid in s.probe_ids:
            r = s.probe(pid, images=False)
            rows.append({"item": pid, "probe": r.probe, "scene_id": r.scene_id, "group": r.group,
                         "model_id": r.model_id, "model_b": r.model_b, "direction": r.direction,
                         "rank": r.rank, "step": r.step, "physical_distance": r.physical_distance,
                         "eigenvalue": r.eigenvalue, "eigenvalue_fd": r.eigenvalue_fd,
                         "growth": r.info.get("growth", math.nan),
                         "hold_error": r.info.get("hold_error", math.nan),
                         **{f"dist:{k}": v for k, v in r.distances.items()}})  # fmt: skip
    return pd.DataFrame(rows)


def _joined(trials: pd.DataFrame, probes: pd.DataFrame) -> pd.DataFrame:
    if len(probes) == 0:
        return pd.DataFrame()
    t = trials[["participant", "item", "correct"]].merge(probes, on="item", how="inner", suffixes=("_trial", ""))
    return t


def eigen_table(trials: pd.DataFrame, probes: pd.DataFrame) -> pd.DataFrame:
    """Proportion correct per (group, model, direction, |step|) on eigendistortion trials (module docstring).

    Examples
    --------
    >>> p = pd.DataFrame({"item": ["a", "b"], "probe": "eigen", "group": "material", "model_id": "m",
    ...                   "direction": ["most", "least"], "step": [1, -1], "physical_distance": 0.1,
    ...                   "eigenvalue": [2.0, 0.0]})
    >>> t = pd.DataFrame({"participant": "p", "item": ["a"] * 4 + ["b"] * 4, "correct": [1, 1, 1, 0, 0, 1, 0, 0]})
    >>> eigen_table(t, p)[["direction", "n", "pc"]].values.tolist()
    [['least', 4, 0.25], ['most', 4, 0.75]]
    """
    j = _joined(trials, probes)
    if len(j) == 0 or "probe" not in j or not (j["probe"] == "eigen").any():
        return pd.DataFrame(columns=["group", "model_id", "direction", "abs_step", "n", "pc", "pc_lo", "pc_hi"])
    j = j[j["probe"] == "eigen"].assign(abs_step=lambda d: d["step"].abs())
    rows = []
    for (g, m, d, s), sub in j.groupby(["group", "model_id", "direction", "abs_step"], sort=True):
        k, n = int(sub["correct"].sum()), len(sub)
        lo, hi = wilson(k, n)
        rows.append({"group": g, "model_id": m, "direction": d, "abs_step": int(s), "n": n, "pc": k / n,
                     "pc_lo": lo, "pc_hi": hi, "physical_distance": float(sub["physical_distance"].mean()),
                     "eigenvalue": float(sub["eigenvalue"].iloc[0])})  # fmt: skip
    return pd.DataFrame(rows)


def _boot_diff(x: pd.DataFrame, y: pd.DataFrame, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap of ``pc(x) - pc(y)``: participants resampled, then trials within each."""
    parts = sorted(set(x["participant"]) | set(y["participant"]))
    xs = {p: x.loc[x["participant"] == p, "correct"].to_numpy(float) for p in parts}
    ys = {p: y.loc[y["participant"] == p, "correct"].to_numpy(float) for p in parts}
    out = np.empty(n_boot)
    for b in range(n_boot):
        pick = rng.choice(parts, size=len(parts), replace=True)
        a = np.concatenate([rng.choice(xs[p], xs[p].size) for p in pick if xs[p].size] or [np.array([np.nan])])
        c = np.concatenate([rng.choice(ys[p], ys[p].size) for p in pick if ys[p].size] or [np.array([np.nan])])
        out[b] = a.mean() - c.mean()
    return out


def mad_table(trials: pd.DataFrame, probes: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Which model's predictions human discrimination follows, per MAD pair (module docstring).

    Examples
    --------
    >>> p = pd.DataFrame({"item": ["x", "y"], "probe": "mad", "scene_id": "s", "group": "material",
    ...                   "model_id": ["A", "B"], "model_b": ["B", "A"], "direction": "max"})
    >>> t = pd.DataFrame({"participant": np.repeat(["p1", "p2"], 20), "item": np.tile(np.repeat(["x", "y"], 10), 2),
    ...                   "correct": np.tile([1] * 9 + [0] + [1] * 3 + [0] * 7, 2)})
    >>> r = mad_table(t, p, n_boot=200).iloc[0]
    >>> r["model_a"], r["model_b"], round(float(r["pc_diff"]), 2), r["follows"]
    ('A', 'B', 0.6, 'A')
    """
    cols = ["scene_id", "group", "model_a", "model_b", "n_a_max", "pc_a_max", "n_b_max", "pc_b_max",
            "pc_diff", "diff_lo", "diff_hi", "follows"]  # fmt: skip
    j = _joined(trials, probes)
    if len(j) == 0 or not (j["probe"] == "mad").any():
        return pd.DataFrame(columns=cols)
    j = j[(j["probe"] == "mad") & (j["direction"] == "max")]
    rng = np.random.default_rng(seed)
    rows = []
    for (scene, group), sub in j.groupby(["scene_id", "group"], sort=True):
        pairs = sorted({tuple(sorted(p)) for p in zip(sub["model_id"], sub["model_b"], strict=True)})
        for a, b in pairs:
            xa = sub[(sub["model_id"] == a) & (sub["model_b"] == b)]
            xb = sub[(sub["model_id"] == b) & (sub["model_b"] == a)]
            if len(xa) == 0 or len(xb) == 0:
                continue
            diff = float(xa["correct"].mean() - xb["correct"].mean())
            lo, hi = np.nanpercentile(_boot_diff(xa, xb, n_boot, rng), [2.5, 97.5])
            follows = a if lo > 0 else b if hi < 0 else "undecided"
            rows.append(dict(zip(cols, [scene, group, a, b, len(xa), float(xa["correct"].mean()), len(xb),
                                        float(xb["correct"].mean()), diff, float(lo), float(hi), follows],
                                 strict=True)))  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def probe_sections(trials: pd.DataFrame, stimuli: str | Path, figures_dir: Path) -> tuple[dict, dict]:
    """Report tables ``{heading: (DataFrame, csv name)}`` and figures ``{heading: (png, caption)}`` of a set's probes.

    Empty dicts when the set has no probe units.
    """
    probes = probe_frame(stimuli)
    if len(probes) == 0:
        return {}, {}
    tables = {"Probes: proportion correct along eigendistortion directions": (eigen_table(trials, probes), "probe_eigen.csv"),
              "Probes: MAD competition (A_max: A pushed, B held; follows = whose prediction humans follow, 95 % "
              "bootstrap over participants)": (mad_table(trials, probes), "probe_mad.csv"),
              "Probe stimuli": (probes, "probes.csv")}  # fmt: skip
    return tables, probe_figures(stimuli, figures_dir)


def probe_figures(stimuli: str | Path, figures_dir: Path) -> dict[str, tuple[Path, str]]:
    """Eigenvalue spectra and the renders of each eigendistortion direction (first view, first render)."""
    from matplotlib.figure import Figure

    from analysis.report import save_figure
    from stimuli import StimulusSet

    out: dict[str, tuple[Path, str]] = {}
    with StimulusSet(stimuli) as s:
        recs = [s.probe(pid) for pid in s.probe_ids]
        targets = {r.scene_id: s.scene_display(r.scene_id) for r in recs}
    eig = [r for r in recs if r.probe == "eigen"]
    if eig:
        spectra = {(r.scene_id, r.group, r.model_id): r.spectrum for r in eig}
        fig = Figure(figsize=(5, 3.2))
        ax = fig.subplots()
        for (sc, g, m), sp in sorted(spectra.items()):
            ax.semilogy(np.arange(1, sp.size + 1), np.maximum(sp, 1e-16), "o-", label=f"{sc} {g} {m}")
        ax.set(xlabel="eigenvalue rank", ylabel="Fisher eigenvalue (latent units)", title="Eigenvalue spectra")
        ax.legend(fontsize=6)
        out["Probes: eigenvalue spectra"] = (save_figure(fig, figures_dir / "probe_spectra")[0],
                                             "Fisher information eigenvalues per scene, group and model (log scale; "
                                             "0 drawn at 1e-16)")  # fmt: skip
        rows = sorted({(r.scene_id, r.group, r.model_id, r.direction) for r in eig})
        steps = sorted({r.step for r in eig})
        fig = Figure(figsize=(1.1 * (len(steps) + 1), 1.2 * len(rows)))
        axes = np.atleast_2d(fig.subplots(len(rows), len(steps) + 1, squeeze=False))
        by = {(r.scene_id, r.group, r.model_id, r.direction, r.step): r for r in eig if r.rank == 0}
        neg, pos = [x for x in steps if x < 0], [x for x in steps if x > 0]
        for i, key in enumerate(rows):
            for jx, st in enumerate([*neg, 0, *pos]):
                ax = axes[i, jx]
                ax.set_xticks([]), ax.set_yticks([])
                img = targets[key[0]][0] if st == 0 else (by[(*key, st)].renders[0, 0] if (*key, st) in by else None)
                if img is not None:
                    ax.imshow(img)
                if i == 0:
                    ax.set_title("target" if st == 0 else f"step {st:+d}", fontsize=6)
            axes[i, 0].set_ylabel(f"{key[2]}\n{key[1]} {key[3]}", fontsize=5)
        out["Probes: rendered eigendistortion directions"] = (
            save_figure(fig, figures_dir / "probe_directions")[0],
            "Each row: a model's most or least sensitive direction in one group, at steps of equal physical size")
    return out

