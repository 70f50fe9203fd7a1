"""``report.html``: the tables and figures of an analysis with a methods paragraph generated from the data.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"participant": ["a", "b"], "item": ["x", "y"], "condition": "c", "analysed": True,
...                   "correct": [1, 0]})
>>> methods_text(t, pd.DataFrame(), {"kind": "table", "trials": "x.csv"}, None, None, None)[:40]
'The analysis used 2 trials from 2 partic'
"""

from __future__ import annotations

import html
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.mixed import MixedResult
from analysis.observer import SigmaFit
from analysis.oddity import DPRIME_MAX


def _n(x: float | int) -> str:
    return f"{int(x):,}"


def methods_text(
    trials: pd.DataFrame,
    sessions: pd.DataFrame,
    source: dict[str, Any],
    mixed: MixedResult | None,
    sigma: SigmaFit | None,
    n_boot: int | None,
) -> str:
    """A short methods paragraph with the numbers of this data set.

    Parameters
    ----------
    trials : pandas.DataFrame
        All trials (with ``analysed``).
    sessions : pandas.DataFrame
        The session table.
    source : dict
        ``LoadedData.source``.
    mixed : MixedResult, optional
    sigma : SigmaFit, optional
    n_boot : int, optional
        Bootstrap replicates of the correlations.

    Returns
    -------
    str
        Plain text.
    """
    a = trials[trials["analysed"]]
    parts = []
    n_p = a["participant"].nunique()
    if source.get("kind") == "sessions":
        n_ses = len(sessions)
        incomplete = sessions.loc[~sessions["completed"].astype(bool), "session_file"].tolist()
        practice = int((trials["block_type"] == "practice").sum())
        catch = trials[trials["is_catch"] & (trials["block_type"] == "main")]
        missed = int((~a["responded"].astype(bool)).sum())
        parts.append(
            f"The analysis used {_n(len(a))} main-block trials from {n_p} participants ({n_ses} sessions; "
            f"{len(incomplete)} incomplete session(s) included"
            f"{': ' + ', '.join(incomplete) if incomplete else ''}) "
            f"on {a['item'].nunique()} metamers of the stimulus set {Path(source['stimuli']).name} "
            f"(digest {source['digest'][:12]}...: {source.get('digest_check', 'not verified')}; stored numbers: "
            f"{source.get('metadata_check', 'not verified')})."
        )
        parts.append(
            f"Excluded from the analyses but reported: {_n(practice)} practice trials and "
            f"{_n(len(catch))} catch trials"
            + (
                f" (catch accuracy {catch['correct'].mean():.3f}; under a guessing lapse model the lapse "
                f"rate is 1.5 x (1 - catch accuracy) = {lapse_from_catch(catch['correct'].mean()):.3f})"
                if len(catch)
                else ""
            )
            + f". Trials without a response ({missed} among the analysed trials) were scored incorrect."
        )
        parts.append(
            f"Per-trial model similarity is the layer-averaged cosine similarity of the view shown, under "
            f"{source.get('similarity_model')}; model distance is 1 - similarity."
        )
    else:
        parts.append(
            f"The analysis used {_n(len(a))} trials from {n_p} participants and {a['item'].nunique()} items "
            f"in {a['condition'].nunique()} conditions "
            f"(columns: {', '.join(source.get('condition_cols') or [])}), "
            f"read from {Path(source['trials']).name}; no trials were excluded."
        )
    parts.append(
        "Pooled proportion correct is given with 95% Wilson intervals, which treat trials as independent "
        "and so describe these trials only; d' follows the independent-observation "
        "differencing model of the 3-item oddity (triangle) task (Frijters 1980; Craven 1992), computed by "
        "numerical integration, with proportions at or below chance mapped to 0 and d' capped at "
        f"{DPRIME_MAX:g}; "
        "d' intervals are the Wilson bounds mapped through the same function. Intervals that generalise "
        "over participants and items come from a cluster bootstrap resampling participants and items"
        + (
            " and from the mixed model (per condition, for a typical participant and item: the Wald interval of "
            "the linear predictor mapped to pc and d'; differences in d' between conditions with intervals from "
            "4,000 draws of the fixed effects and Wald p-values on the linear-predictor scale)."
            if mixed is not None and mixed.laplace is not None
            else "."
        )
    )
    if mixed is not None and len(mixed.effects):
        parts.append(mixed_text(mixed))
        for col, (mu, sd) in mixed.standardisation.items():
            parts.append(
                f"{col}_z is {col} standardised over the analysed trials (mean {mu:.4g}, SD {sd:.4g})."
            )
    if "distance" in a and a["distance"].notna().any():
        parts.append(
            "Per group, a Weibull psychometric function of model distance with guess rate fixed at 1/3 and a "
            "free lapse rate was fitted by maximum likelihood (Wald intervals from the observed Fisher "
            "information)."
        )
        if n_boot:
            parts.append(
                f"Spearman correlations of item d' with item similarity carry percentile intervals from "
                f"{_n(n_boot)} bootstrap replicates resampling participants and items."
            )
    if sigma is not None:
        how = "fitted to the human responses by maximum likelihood" if sigma.fitted else "given"
        parts.append(
            f"The model observer (a differencing oddity observer with d' = distance / sigma) ran the same "
            f"trials; sigma = {sigma.sigma:.4g} ({how}"
            + (f", 95% profile interval {sigma.lo:.4g} to {sigma.hi:.4g}" if sigma.fitted else "")
            + ")."
        )
    return " ".join(parts)


def mixed_text(mixed: MixedResult) -> str:
    """The sentence describing the mixed-model fits.

    Examples
    --------
    >>> import pandas as pd
    >>> m = MixedResult(pd.DataFrame(), "correct ~ C(m)", ["participant"], 10,
    ...                 random_terms=["(1 | participant)"], methods=["laplace"])
    >>> mixed_text(m)[:60]
    'A binomial mixed model (correct ~ C(m) + (1 | participant); '
    """
    link = (
        "link: pc = 1/3 + 2/3 logistic(eta), the oddity guess-rate link (psyphy's mafc.logit(3))"
        if mixed.link == "oddity"
        else "logit link"
    )
    fits = []
    if "laplace" in mixed.methods:
        fits.append(
            "by maximum likelihood with the Laplace approximation (as lme4's glmer, nAGQ = 1; penalised IRLS "
            "for the conditional modes, fixed effects and random-effect covariances optimised jointly); "
            "intervals and p-values of its fixed effects (rows glmm-laplace) are Wald intervals with glmer's "
            "standard errors (from the Hessian of the Laplace deviance), random-effect SD intervals are "
            "Wald intervals on the log scale"
        )
    if "vb" in mixed.methods:
        fits.append(
            "by variational Bayes (statsmodels' BinomialBayesMixedGLM, mean-field, random intercepts only; rows "
            "glmm-vb: point estimates only, because mean-field posterior SDs of fixed effects are too small "
            "when fixed and random effects are correlated, 0.09-0.50 x glmer's SEs on the Wallis et al. data)"
        )
    if "map" in mixed.methods:
        fits.append(
            "at the joint posterior mode with a Laplace covariance (statsmodels' fit_map; rows glmm-map)"
        )
    if "bayes" in mixed.methods and mixed.bayes is not None:
        from analysis.bayes_report import describe

        fits.append(describe(mixed.bayes))
    gee = (mixed.effects["method"] == "gee").any() if len(mixed.effects) else False
    return (
        f"A binomial mixed model ({' + '.join([mixed.formula, *mixed.random_terms])}; {link}) was fitted to "
        f"{_n(mixed.n_trials)} trials "
        + "; and ".join(fits)
        + (
            "; the fixed part was also fitted by GEE (exchangeable within participant, robust SEs)."
            if gee
            else "."
        )
    )


def _table_html(df: pd.DataFrame, max_rows: int = 60) -> str:
    shown = df.head(max_rows)
    body = shown.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0, classes="t")
    if len(df) > max_rows:
        body += f"<p class='note'>First {max_rows} of {len(df)} rows; the full table is in the CSV.</p>"
    return body


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table.t{border-collapse:collapse;font-size:12px;margin:.5em 0}
table.t td,table.t th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}
img{max-width:100%;border:1px solid #eee}.note{color:#666;font-size:12px}
"""


def write_report(
    path: Path,
    title: str,
    methods: str,
    tables: dict[str, tuple[pd.DataFrame, str]],
    figures: dict[str, tuple[Path, str]],
    notes: list[str] | None = None,
) -> Path:
    """Write ``report.html``.

    Parameters
    ----------
    path : pathlib.Path
        The HTML file.
    title : str
        Page title.
    methods : str
        Methods paragraph.
    tables : dict
        ``{heading: (DataFrame, csv file name)}``.
    figures : dict
        ``{heading: (png path, caption)}``; linked relative to the report.
    notes : list of str, optional
        Warnings to list (e.g. from model fits).

    Returns
    -------
    pathlib.Path
    """
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<h2>Methods</h2><p>{html.escape(methods)}</p>",
    ]
    for heading, (png, caption) in figures.items():
        rel = png.relative_to(path.parent).as_posix()
        svg = png.with_suffix(".svg").relative_to(path.parent).as_posix()
        out.append(
            f"<h2>{html.escape(heading)}</h2><img src='{rel}' alt='{html.escape(heading)}'>"
            f"<p class='note'>{html.escape(caption)} (<a href='{svg}'>SVG</a>)</p>"
        )
    for heading, (df, csv) in tables.items():
        out.append(
            f"<h2>{html.escape(heading)}</h2><p class='note'>CSV: <a href='tables/{csv}'>{csv}</a></p>"
        )
        out.append(_table_html(df))
    if notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        out.append(f"<h2>Notes</h2><ul class='note'>{items}</ul>")
    out.append("</body></html>")
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def save_figure(fig: Any, stem: Path) -> list[Path]:
    """Save a matplotlib figure as ``stem.png`` and ``stem.svg`` (reproducible metadata) and close it.

    Examples
    --------
    >>> import tempfile
    >>> from matplotlib.figure import Figure
    >>> fig = Figure()
    >>> _ = fig.subplots().plot([0, 1])
    >>> [p.suffix for p in save_figure(fig, Path(tempfile.mkdtemp()) / "f")]
    ['.png', '.svg']
    """
    import matplotlib

    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    with matplotlib.rc_context({"svg.hashsalt": "mrd-analysis"}):
        fig.savefig(png, dpi=130, bbox_inches="tight", metadata={"Software": None})
        fig.savefig(svg, bbox_inches="tight", metadata={"Date": None, "Creator": None})
    if (
        "matplotlib.pyplot" in sys.modules
    ):  # a figure made by pyplot: release it (a plain Figure needs nothing)
        sys.modules["matplotlib.pyplot"].close(fig)
    return [png, svg]


def lapse_from_catch(pc: float) -> float:
    """Lapse rate implied by catch-trial accuracy when lapses are guesses: ``1.5 * (1 - pc)``.

    Examples
    --------
    >>> lapse_from_catch(0.98)
    0.03
    """
    return float(np.round(1.5 * (1.0 - pc), 12))
