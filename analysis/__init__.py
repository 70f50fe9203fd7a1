"""Analysis: human discriminability in the oddity task against model similarity.

Modules: :mod:`~analysis.oddity` (oddity signal detection: pc <-> d'), :mod:`~analysis.load` (session
data with the stimulus set, or a plain trial table), :mod:`~analysis.summaries`, :mod:`~analysis.mixed`
(binomial mixed model: Laplace fit as glmer, VB, GEE), :mod:`~analysis.glmm` (with :mod:`~analysis.glmm_terms` and the links of :mod:`~analysis.binomial`), :mod:`~analysis.dprime_effects`, :mod:`~analysis.intervals`, :mod:`~analysis.psychometric`, :mod:`~analysis.correlation`,
:mod:`~analysis.observer` (model observer), :mod:`~analysis.figures`, :mod:`~analysis.report`,
:mod:`~analysis.api` (:func:`analyze`), :mod:`~analysis.synthetic` (synthetic data with known truth) and
:mod:`~analysis.commands` (``mrd analyze``). Imports neither PsychoPy nor torch nor ``mrd``.
"""

from typing import Any

__all__ = ["analyze"]


def __getattr__(name: str) -> Any:
    """``from analysis import analyze`` imports :mod:`analysis.api` only when first asked for."""
    if name == "analyze":
        from analysis.api import analyze

        return analyze
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")
