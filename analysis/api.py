"""The analysis as one call: data in, DataFrames (and optionally tables, figures and a report) out.

Examples
--------
>>> import tempfile, pathlib
>>> from analysis.synthetic import make_store, simulate_sessions
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> store = make_store(tmp / "set.h5", n_scenes=3, metamers_per_scene=2)
>>> _ = simulate_sessions(store, tmp / "data", n_participants=3, n_main=60, seed=0)
>>> res = analyze(stimuli=store, data=tmp / "data", out=tmp / "out", n_boot=50, progress=False)
>>> (tmp / "out" / "report.html").exists(), sorted(res.conditions["group"].unique())
(True, ['lighting', 'material', 'shape'])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from analysis import correlation, dprime_effects, intervals, mixed, observer, psychometric, summaries
from analysis.load import LoadedData, load_sessions
from analysis.load_table import load_trials_table
from analysis.outputs import write_outputs
from analysis.report import methods_text
from stimuli.errors import MRDError


@dataclass
class AnalysisResult:
    """Everything an analysis produced, as pandas DataFrames.

    Attributes
    ----------
    data : LoadedData
        The loaded trials, sessions and stimulus metadata.
    items, participants, conditions, participant_conditions : pandas.DataFrame
        Summaries (n, pc, Wilson CI, d' with CI).
    exclusions : pandas.DataFrame
        Trial counts by role per participant.
    mixed : MixedResult or None
        Mixed-model effects (``mixed.effects``).
    psychometric : pandas.DataFrame
        Per group Weibull parameters with intervals (empty without a model distance).
    correlations : pandas.DataFrame
        Per group Spearman rho of item d' with similarity, bootstrap CI.
    observer_items : pandas.DataFrame
        Human vs model-observer accuracy per item.
    sigma : SigmaFit or None
        The model observer's noise.
    methods : str
        The generated methods paragraph.
    files : list of Path
        Files written (empty without ``out``).
    condition_effects : pandas.DataFrame
        Per condition: pooled pc and d' with cluster-bootstrap intervals over participants and items
        (``*_boot_lo/hi``) and, with the Laplace mixed model, pc and d' for a typical participant and
        item with model-based intervals (``pc_glmm``, ``dprime_glmm`` and their ``_lo/_hi``).
    dprime_contrasts : pandas.DataFrame
        Differences in d' between every pair of conditions (mixed model), with intervals.
    """

    data: LoadedData
    items: pd.DataFrame
    participants: pd.DataFrame
    conditions: pd.DataFrame
    participant_conditions: pd.DataFrame
    exclusions: pd.DataFrame
    mixed: mixed.MixedResult | None
    psychometric: pd.DataFrame
    psychometric_fits: dict[str, psychometric.PsychometricFit]
    correlations: pd.DataFrame
    observer_items: pd.DataFrame
    sigma: observer.SigmaFit | None
    methods: str
    files: list[Path] = field(default_factory=list)
    condition_effects: pd.DataFrame = field(default_factory=pd.DataFrame)
    dprime_contrasts: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def trials(self) -> pd.DataFrame:
        """All trials (``analysed`` marks those in the analyses)."""
        return self.data.trials

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by its CSV name (without suffix)."""
        t = {
            "trials": self.data.trials,
            "sessions": self.data.sessions,
            "exclusions": self.exclusions,
            "summary_items": self.items,
            "summary_participants": self.participants,
            "summary_conditions": self.conditions,
            "summary_participant_conditions": self.participant_conditions,
            "psychometric": self.psychometric,
            "correlations": self.correlations,
            "observer_items": self.observer_items,
            "condition_effects": self.condition_effects,
            "dprime_contrasts": self.dprime_contrasts,
        }
        if self.mixed is not None:
            t["mixed_effects"] = self.mixed.effects
            if self.mixed.bayes is not None:  # posterior, priors and diagnostics (diagnostics alone if refused)
                t["mixed_bayes"] = self.mixed.bayes.report_table()
        if self.sigma is not None:
            t["observer_sigma"] = self.sigma.table()
        if self.data.metamers is not None:
            t["metamers"] = self.data.metamers
        return t


def analyze(
    stimuli: str | os.PathLike[str] | None = None,
    data: str | os.PathLike[str] | None = None,
    trials: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    participant_col: str = "participant",
    item_cols: str | Sequence[str] = "item",
    condition_cols: str | Sequence[str] | None = "condition",
    correct_col: str = "correct",
    x_col: str | None = None,
    group_col: str | None = None,
    similarity_model: str | None = None,
    sigma: float | None = None,
    formula: str | None = None,
    run_mixed: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
    progress: bool = True,
    blas_threads: int | None = 1,
    random: Sequence[str] = ("participant", "item"),
    link: str = "logit",
    mixed_methods: Sequence[str] = ("laplace",),
    gee: bool = False,
    psychometric_backend: str = "ml",
    bayes_options: dict | None = None,
) -> AnalysisResult:
    """Analyse oddity data: session data with their stimulus set, or a plain trial table.

    Give either ``stimuli`` and ``data`` (session files), or ``trials`` (a tidy CSV, mapped with the
    ``*_col`` options).

    Parameters
    ----------
    stimuli : path-like, optional
        Stimulus set (HDF5).
    data : path-like, optional
        Folder of session files.
    trials : path-like, optional
        A tidy trial table (generic entry).
    out : path-like, optional
        Output folder for ``tables/*.csv``, ``figures/*.png|svg``, ``report.html`` and ``analysis.json``.
    participant_col, item_cols, condition_cols, correct_col, x_col, group_col
        Column mapping of the generic entry (see :func:`analysis.load_table.load_trials_table`).
    similarity_model : str, optional
        Model whose similarity defines the per-trial similarity (default: each metamer's own).
    sigma : float, optional
        Model-observer noise; fitted to the human data when not given.
    formula : str, optional
        The mixed model's fixed part (default :func:`analysis.mixed.default_formula`), optionally with
        lme4-style random terms, e.g. ``"correct ~ C(model) * C(presentation) + (1 + presentation |
        participant) + (1 | item)"``, which then replace ``random``.
    run_mixed : bool
        Fit the mixed models.
    n_boot : int
        Bootstrap replicates for the correlations.
    seed : int
        Bootstrap seed.
    progress : bool
        Show a progress bar over the steps.
    blas_threads : int, optional
        BLAS threads during the analysis (``None`` leaves them alone). The work is many small
        matrix operations, where multi-threaded BLAS only adds overhead: on the 2-core development
        machine one thread made the mixed model 2.5x and the psychometric fits up to 40x faster.
    random : sequence of str
        Random-effects terms: grouping factors (random intercepts) or lme4-style terms such as
        ``"(1 + presentation | participant)"`` (correlated random slopes).
    link : {"logit", "oddity"}
        ``"oddity"``: ``pc = 1/3 + 2/3 logistic(eta)`` (psyphy's ``mafc.logit(3)``).
    mixed_methods : sequence of {"laplace", "vb", "map", "bayes"}
        Mixed-model fits (default: the Laplace fit, as lme4's glmer; ``"bayes"``: PyMC, optional extra).
    gee : bool
        Also fit the fixed part by GEE (exchangeable within participant; ignores the item effect).
    psychometric_backend : {"ml", "psignifit"}
        Built-in maximum likelihood, or psignifit 4 (optional extra; beta-binomial).
    bayes_options : dict, optional
        Sampler settings of the ``"bayes"`` fit (:func:`analysis.bayes.fit_bayes`: draws, tune, chains,
        seed, target_accept); an unconverged fit is kept in ``mixed.bayes`` with no estimates.

    Returns
    -------
    AnalysisResult
    """
    kw = {k: v for k, v in locals().items() if k != "blas_threads"}
    with _blas_limit(blas_threads):
        return _analyze(**kw)


def _blas_limit(n: int | None) -> AbstractContextManager:
    if n is None:
        return nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its default threads
        return nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def _analyze(
    *,
    stimuli: str | os.PathLike[str] | None,
    data: str | os.PathLike[str] | None,
    trials: str | os.PathLike[str] | None,
    out: str | os.PathLike[str] | None,
    participant_col: str,
    item_cols: str | Sequence[str],
    condition_cols: str | Sequence[str] | None,
    correct_col: str,
    x_col: str | None,
    group_col: str | None,
    similarity_model: str | None,
    sigma: float | None,
    formula: str | None,
    run_mixed: bool,
    n_boot: int,
    seed: int,
    progress: bool,
    random: Sequence[str],
    link: str,
    mixed_methods: Sequence[str],
    gee: bool,
    psychometric_backend: str,
    bayes_options: dict | None,
) -> AnalysisResult:
    if trials is not None and (stimuli is not None or data is not None):
        raise MRDError("give either --trials CSV, or --stimuli SET.h5 with --data DIR, not both")
    steps = tqdm(total=8, desc="analyze", disable=not progress, unit="step")
    if trials is not None:
        loaded = load_trials_table(
            trials, participant_col, item_cols, condition_cols, correct_col, group_col, x_col
        )
    elif stimuli is not None and data is not None:
        loaded = load_sessions(data, stimuli, similarity_model)
    else:
        raise MRDError("nothing to analyse: give --stimuli SET.h5 and --data DIR, or --trials CSV")
    a = loaded.analysed
    if len(a) == 0:
        raise MRDError(f"no analysable trials (main blocks, non-catch) in {loaded.source}")
    steps.update()
    cc = loaded.condition_cols
    items = summaries.per_item(a, condition_cols=cc)
    conditions = summaries.per_condition(a, condition_cols=cc)
    participants = summaries.per_participant(a)
    pcond = summaries.per_participant_condition(a, condition_cols=cc)
    excl = summaries.exclusions(loaded.trials)
    steps.update()
    mixed_res = (
        mixed.fit_mixed(
            a,
            formula=formula,
            random=random,
            methods=mixed_methods,
            gee=gee,
            condition_cols=loaded.condition_cols,
            link=link,
            bayes_options={"progressbar": progress, **(bayes_options or {})},
        )
        if run_mixed
        else None
    )
    steps.update()
    keys = summaries.condition_keys(a, cc)
    effects, contrasts = condition_effects_table(mixed_res, a, keys, n_boot, seed)
    psy_table, fits = (
        psychometric.fit_by_group(a, backend=psychometric_backend)
        if loaded.has_distance
        else (psychometric.empty_table(), {})
    )
    steps.update()
    corr = correlation.empty_table()
    if loaded.has_distance:
        col = "similarity" if "similarity" in a else "distance"
        corr = correlation.item_correlations(a, x=col, n_boot=n_boot, seed=seed)
    steps.update()
    sigma_fit, obs = None, observer.empty_items()
    if "similarity" in a and a["similarity"].notna().any():
        sigma_fit = observer.fit_sigma(a, sigma=sigma)
        obs = observer.compare_items(a, sigma_fit.sigma)
    steps.update()
    methods = methods_text(
        loaded.trials,
        loaded.sessions,
        {**loaded.source, "condition_cols": loaded.condition_cols},
        mixed_res,
        sigma_fit,
        n_boot if len(corr) else None,
    )
    result = AnalysisResult(
        loaded,
        items,
        participants,
        conditions,
        pcond,
        excl,
        mixed_res,
        psy_table,
        fits,
        corr,
        obs,
        sigma_fit,
        methods,
        condition_effects=effects,
        dprime_contrasts=contrasts,
    )
    if out is not None:
        result.files = write_outputs(result, Path(out))
    steps.update()
    steps.close()
    return result


def condition_effects_table(
    mixed_res: mixed.MixedResult | None, trials: pd.DataFrame, keys: list[str], n_boot: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-condition intervals over participants and items (cluster bootstrap and the Laplace model),
    and the d' contrasts of the model.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"participant": list("aabb"), "item": list("xyxy"), "condition": "c",
    ...                   "correct": [1, 0, 1, 1]})
    >>> eff, con = condition_effects_table(None, t, ["condition"], 50, 0)
    >>> list(eff.columns[:3]), len(con)
    (['condition', 'n', 'pc'], 0)
    """
    boot = intervals.cluster_bootstrap(trials, by=keys, n_boot=max(n_boot, 1), seed=seed)
    counts = trials.groupby(keys, observed=True)["correct"].agg(n="size").reset_index()
    counts[keys] = counts[keys].astype(str)
    boot[keys] = boot[keys].astype(str)
    out = counts.merge(boot, on=keys, how="right")
    contrasts = pd.DataFrame(columns=dprime_effects.CONTRAST_COLUMNS)
    if mixed_res is not None and mixed_res.laplace is not None:
        eff, contrasts = dprime_effects.condition_effects(mixed_res, trials, keys, seed=seed)
        eff = eff.rename(
            columns={
                "pc": "pc_glmm",
                "pc_lo": "pc_glmm_lo",
                "pc_hi": "pc_glmm_hi",
                "dprime": "dprime_glmm",
                "dprime_lo": "dprime_glmm_lo",
                "dprime_hi": "dprime_glmm_hi",
                "method": "glmm",
            }
        )
        out = out.merge(eff, on=keys, how="left")
    return summaries.natural_sort(out, keys), contrasts
