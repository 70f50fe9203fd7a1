"""Key names PsychoPy reports (a typo in ``[keys]`` is refused before a session starts), and the
per-participant assignment of the key lists to positions (:func:`key_order`).

:data:`KEY_NAMES` holds the names that both of PsychoPy's Linux key paths produce: ``psychopy.event``
(pyglet's symbol names, lower case, without the leading underscore of digits; numpad keys with NumLock on
are ``num_1`` .. ``num_9``) and ``psychopy.hardware.keyboard`` with the psychtoolbox backend (its
``keyNamesLinux`` table). ``tests/psychophysics/test_keys.py`` recomputes the set from both sources.

Examples
--------
>>> check_key_name("space"), check_key_name("num_1")
('space', 'num_1')
>>> check_key_name("spcae")
Traceback (most recent call last):
...
ValueError: 'spcae' is not a key name PsychoPy reports (did you mean 'space'?); names are lower case, e.g. 'a', '1', 'num_1', 'left', 'space', 'return', 'escape'
"""

from __future__ import annotations

import difflib
import hashlib
import itertools

KEY_NAMES: frozenset[str] = frozenset(
    """
    0 1 2 3 4 5 6 7 8 9 a apostrophe b backslash backspace bracketleft bracketright c capslock comma
    d delete down e end equal escape f f1 f10 f11 f12 f2 f3 f4 f5 f6 f7 f8 f9 g h home i insert j k
    l lalt lctrl left less lshift m menu minus n num_0 num_1 num_2 num_3 num_4 num_5 num_6 num_7
    num_8 num_9 num_add num_decimal num_divide num_enter num_multiply num_subtract numlock o p
    pagedown pageup pause period q quoteleft r ralt rctrl return right rshift s scrolllock semicolon
    slash space t tab u up v w x y z
    """.split()  # noqa: SIM905 (a word list reads better than 101 quoted strings)
)
"""Key names accepted in ``[keys]``."""


def check_key_name(name: str) -> str:
    """Return ``name`` if PsychoPy reports it, else raise ``ValueError`` suggesting the closest name."""
    if name in KEY_NAMES:
        return name
    close = difflib.get_close_matches(name.lower(), sorted(KEY_NAMES), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(
        f"{name!r} is not a key name PsychoPy reports{hint}; names are lower case, e.g. 'a', '1', "
        "'num_1', 'left', 'space', 'return', 'escape'"
    )


def key_order(participant: str, session: int, seed: int, counterbalance: bool) -> list[int]:
    """The position order of the key lists for this participant (``[1, 2, 3]`` unless counterbalanced).

    Counterbalanced: one of the six orders, chosen from the participant id and the config seed (not
    the session, so a participant keeps the mapping across sessions).

    Examples
    --------
    >>> key_order("P01", 1, 0, False)
    [1, 2, 3]
    >>> key_order("P01", 1, 0, True) == key_order("P01", 2, 0, True)
    True
    """
    if not counterbalance:
        return [1, 2, 3]
    orders = list(itertools.permutations([1, 2, 3]))
    digest = hashlib.sha256(f"{seed}|{participant}|keys".encode()).digest()
    return list(orders[int.from_bytes(digest[:8], "big") % 6])
