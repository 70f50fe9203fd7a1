"""Find a shared libLLVM for Dr.Jit's CPU backend and point ``DRJIT_LIBLLVM_PATH`` at it.

Dr.Jit's ``llvm_ad_*`` variants load libLLVM at run time. It must be version 16 or newer (the
libLLVM 15 that Mesa brings crashes Dr.Jit at the first render), and the variable must be set
*before* ``import drjit``: afterwards it has no effect. ``import mrd`` calls :func:`ensure_llvm`,
so every entry path that goes through the package is covered.

Search order: an existing ``DRJIT_LIBLLVM_PATH`` (kept as given), the ``karellen-llvm-core``
library inside the running environment (``<prefix>/lib/libLLVM*.so*``), then system copies
(Debian's ``libllvm19`` ... ``libllvm16``).

Examples
--------
>>> from mrd._llvm import ensure_llvm
>>> path = ensure_llvm()
>>> path is None or path.exists()
True
"""

from __future__ import annotations

import glob
import os
import re
import sys
from pathlib import Path

MIN_VERSION = 16


def _version_of(path: Path) -> int | None:
    """Return the LLVM major version encoded in a library file name, if any."""
    real = Path(os.path.realpath(path)).name
    for name in (real, path.name):
        m = re.search(r"libLLVM[-.]?(?:so\.)?(\d+)", name)
        if m:
            return int(m.group(1))
    return None


def candidates() -> list[Path]:
    """List libLLVM files that could serve Dr.Jit, best first.

    Returns
    -------
    list of pathlib.Path
        Existing files, environment-local ones first, then system ones, newest version first.

    Examples
    --------
    >>> isinstance(candidates(), list)
    True
    """
    found: list[Path] = []
    prefixes = [Path(sys.prefix), Path(sys.base_prefix)]
    for prefix in prefixes:
        for pattern in ("lib/libLLVM.so", "lib/libLLVM-*.so", "lib/libLLVM.so.*"):
            found += [Path(p) for p in sorted(glob.glob(str(prefix / pattern)))]
    system: list[Path] = []
    for pattern in (
        "/usr/lib/llvm-*/lib/libLLVM*.so*",
        "/usr/lib/x86_64-linux-gnu/libLLVM*.so*",
        "/usr/lib/aarch64-linux-gnu/libLLVM*.so*",
    ):
        system += [Path(p) for p in glob.glob(pattern)]
    system.sort(key=lambda p: -(_version_of(p) or 0))
    out: list[Path] = []
    for p in found + system:
        v = _version_of(p)
        if p.exists() and (v is None or v >= MIN_VERSION) and p not in out:
            out.append(p)
    return out


def ensure_llvm() -> Path | None:
    """Set ``DRJIT_LIBLLVM_PATH`` to a usable libLLVM unless it is already set.

    Returns
    -------
    pathlib.Path or None
        The library in use, or None when none was found (CUDA variants still work).

    Examples
    --------
    >>> p = ensure_llvm()
    >>> p is None or os.environ["DRJIT_LIBLLVM_PATH"] == str(p)
    True
    """
    current = os.environ.get("DRJIT_LIBLLVM_PATH")
    if current:
        return Path(current)
    found = candidates()
    if not found:
        return None
    os.environ["DRJIT_LIBLLVM_PATH"] = str(found[0])
    return found[0]


def llvm_version(path: Path | None) -> int | None:
    """Major LLVM version of a library path (from its name), or None.

    Examples
    --------
    >>> llvm_version(Path("/usr/lib/llvm-19/lib/libLLVM-19.so"))
    19
    """
    if path is None:
        return None
    return _version_of(path)
