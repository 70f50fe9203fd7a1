"""Psychophysics: the oddity experiment on a stimulus set.

Modules: :mod:`~psychophysics.config` (experiment config), :mod:`~psychophysics.design` (trial design,
pure Python), :mod:`~psychophysics.datafile` (session files, the writer of the contract in
:mod:`stimuli.sessions`), :mod:`~psychophysics.observers` (simulated observers),
:mod:`~psychophysics.images` (which images a trial shows), :mod:`~psychophysics.display` (pixel-exact
layout, timing check), :mod:`~psychophysics.calibration` (display calibration),
:mod:`~psychophysics.keynames` (valid key names), :mod:`~psychophysics.responses` (keyboard backends),
:mod:`~psychophysics.renders` (which renders a trial shows), :mod:`~psychophysics.practice`
(practice rounds), :mod:`~psychophysics.screens` (messages, breaks, quit confirmation),
:mod:`~psychophysics.session` (the PsychoPy session), :mod:`~psychophysics.simulate` (window-less
simulated participants) and :mod:`~psychophysics.commands` (``mrd experiment``, ``mrd simulate``).

The design and simulation entry points are importable from the package; they are loaded on first
use, so ``import psychophysics`` imports neither PsychoPy nor torch.

Examples
--------
>>> import subprocess, sys
>>> code = "import sys, psychophysics; psychophysics.build_plan; print('psychopy' in sys.modules)"
>>> subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
'False'
>>> import psychophysics
>>> psychophysics.load_config().design.only_successful
True
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ExperimentConfig": "psychophysics.config",
    "load_config": "psychophysics.config",
    "Item": "psychophysics.design",
    "Trial": "psychophysics.design",
    "build_plan": "psychophysics.design",
    "items_from_store": "psychophysics.design",
    "session_seed": "psychophysics.design",
    "make_observer": "psychophysics.observers",
    "OBSERVERS": "psychophysics.observers",
    "prepare": "psychophysics.preparation",
    "simulate_participants": "psychophysics.simulate",
    "SessionFiles": "psychophysics.datafile",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'psychophysics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
