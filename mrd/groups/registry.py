"""The registry of parameter groups: name -> :class:`mrd.groups.base.ParameterGroup`.

The three shipped groups (``shape``, ``material``, ``lighting``) are registered when
:mod:`mrd.groups` is imported; a researcher registers another with :func:`register_group`
(before the config that names it is parsed). See ``docs/groups.md``.

Examples
--------
>>> import mrd.groups
>>> group_names()[:3]
('shape', 'material', 'lighting')
>>> get_group("material").name
'material'
"""

from __future__ import annotations

from typing import Any

from stimuli.errors import MRDError

_GROUPS: dict[str, Any] = {}
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def register_group(group: Any, *, replace: bool = False) -> Any:
    """Register a :class:`~mrd.groups.base.ParameterGroup` instance under its ``name``; return it.

    Parameters
    ----------
    group : ParameterGroup
    replace : bool
        Allow replacing a group registered under the same name.

    Examples
    --------
    >>> from mrd.groups.base import ParameterGroup
    >>> class Nothing(ParameterGroup):
    ...     name = "nothing"
    >>> register_group(Nothing()).name
    'nothing'
    >>> unregister_group("nothing")
    """
    name = getattr(group, "name", "")
    if not name or not set(name) <= _NAME_CHARS or not name[0].isalpha():
        raise MRDError(f"parameter group name {name!r}: use lower-case letters, digits and '_' (start with a letter)")
    if name in _GROUPS and not replace and _GROUPS[name] is not group:
        raise MRDError(f"parameter group {name!r} is already registered; pass replace=True to replace it")
    _GROUPS[name] = group
    return group


def unregister_group(name: str) -> None:
    """Remove a registered group (for tests and notebooks)."""
    _GROUPS.pop(name, None)


def get_group(name: str) -> Any:
    """The registered group called ``name``; an :class:`MRDError` lists the known ones."""
    try:
        return _GROUPS[name]
    except KeyError:
        raise MRDError(f"unknown parameter group {name!r}; known: {', '.join(_GROUPS)}") from None


def group_names() -> tuple[str, ...]:
    """Names of the registered groups, in registration order."""
    return tuple(_GROUPS)
