"""MRD: model metamers rendered differentiably.

The metamer generator (Mitsuba 3 + Dr.Jit + torch + timm) and the ``mrd`` command line.
Importing this package points Dr.Jit at a usable libLLVM before anything imports ``drjit``
(see :mod:`mrd._llvm`).

Examples
--------
>>> import mrd
>>> isinstance(mrd.__version__, str)
True
"""

from mrd._llvm import ensure_llvm

ensure_llvm()

__version__ = "0.1.0"
