"""Lazy package exports: names a package offers that load their module on first use.

A package's ``__init__`` lists ``{name: module}`` and sets ``__getattr__ = lazy_exports(__name__, EXPORTS)``,
so ``import package`` stays light (no torch, Mitsuba, PsychoPy or pandas until a name is used).

Examples
--------
>>> getattr_ = lazy_exports("pkg", {"dumps": "json"})
>>> getattr_("dumps")({"a": 1})
'{"a": 1}'
>>> getattr_("nothing")
Traceback (most recent call last):
...
AttributeError: module 'pkg' has no attribute 'nothing'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str | tuple[str, str]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``exports``: ``{name: module}`` or ``{name: (module, attribute)}``."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        target = exports[name]
        module, attr = (target, name) if isinstance(target, str) else target
        return getattr(import_module(module), attr)

    return __getattr__
