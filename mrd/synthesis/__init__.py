"""Synthesis: seeds, target scenes, the objective, the stop rule, the optimisation loop, the null
reference, the :class:`~mrd.synthesis.metamer.Metamer` object, ``generate`` over a config, the
executors (local, Ray) and ``score``.

Examples
--------
>>> from mrd.synthesis import Metamer
>>> Metamer.__name__
'Metamer'
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Metamer": "mrd.synthesis.metamer",
    "Target": "mrd.synthesis.target",
    "Seeds": "mrd.synthesis.seeds",
    "generate": "mrd.synthesis.generate",
    "Generator": "mrd.synthesis.generate",
    "score_store": "mrd.synthesis.score",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mrd.synthesis' has no attribute {name!r}")
