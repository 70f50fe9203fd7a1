"""Synthesis: seeds, target scenes, the objective, the stop rule, the optimisation loop, the null
reference, the :class:`~mrd.synthesis.metamer.Metamer` object (its restarts and its store record),
``generate`` over a config, the executors (local, Ray, SLURM) and ``score``.

Examples
--------
>>> from mrd.synthesis import Metamer
>>> Metamer.__name__
'Metamer'
"""

from __future__ import annotations

from stimuli.lazy import lazy_exports

_EXPORTS = {
    "Metamer": "mrd.synthesis.metamer",
    "Target": "mrd.synthesis.target",
    "Seeds": "mrd.synthesis.seeds",
    "generate": "mrd.synthesis.generate",
    "Generator": "mrd.synthesis.generate",
    "score_store": "mrd.synthesis.score",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
