"""MRD: model metamers rendered differentiably.

The metamer generator (Mitsuba 3 + Dr.Jit + torch + timm) and the ``mrd`` command line. Importing
this package points Dr.Jit at a usable libLLVM before anything imports ``drjit``
(:mod:`mrd._llvm`), and nothing heavier: the objects a notebook needs load on first use.

Subpackages, in workflow order: :mod:`mrd.config` (the TOML config), :mod:`mrd.groups` (parameter
groups and their registry), :mod:`mrd.render` (Mitsuba scene and renderer), :mod:`mrd.models`
(vision models), :mod:`mrd.synthesis` (the metamer recipe, ``generate``, executors, ``score``) and
:mod:`mrd.commands` (the command line).

Examples
--------
>>> import mrd
>>> isinstance(mrd.__version__, str), callable(mrd.load_config)
(True, True)
>>> sorted(mrd.__all__)[:3]
['Metamer', 'SynthesisSettings', 'Target']
"""

from __future__ import annotations

from mrd._llvm import ensure_llvm
from stimuli.lazy import lazy_exports

ensure_llvm()

__version__ = "0.1.0"

_EXPORTS = {
    "Metamer": ("mrd.synthesis.metamer", "Metamer"),
    "Target": ("mrd.synthesis.target", "Target"),
    "SynthesisSettings": ("mrd.config", "SynthesisSettings"),
    "load_config": ("mrd.config", "load_config"),
    "load_model": ("mrd.models", "load_model"),
    "generate": ("mrd.synthesis.generate", "generate"),
    "score": ("mrd.synthesis.score", "score_store"),
    "register_group": ("mrd.groups", "register_group"),
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
