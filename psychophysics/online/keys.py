"""PsychoPy key names as a browser sees them (``KeyboardEvent.key``) and as CDP sends them.

The experiment config names keys the PsychoPy way (``left``, ``space``, ``1``). The online task
listens to ``KeyboardEvent.key`` (lower-cased, as jsPsych compares keys) and writes the PsychoPy
name back into the data, so a row from the browser reads like a row from the lab.

Examples
--------
>>> browser_key("left"), browser_key("space"), browser_key("a")
('arrowleft', ' ', 'a')
>>> cdp_key("2")["code"], cdp_key("right")["windowsVirtualKeyCode"]
('Digit2', 39)
"""

from __future__ import annotations

from typing import Any

from stimuli.errors import MRDError

# PsychoPy name -> (KeyboardEvent.key, KeyboardEvent.code, Windows virtual key code)
_NAMED: dict[str, tuple[str, str, int]] = {
    "left": ("ArrowLeft", "ArrowLeft", 37),
    "up": ("ArrowUp", "ArrowUp", 38),
    "right": ("ArrowRight", "ArrowRight", 39),
    "down": ("ArrowDown", "ArrowDown", 40),
    "space": (" ", "Space", 32),
    "escape": ("Escape", "Escape", 27),
    "return": ("Enter", "Enter", 13),
    "enter": ("Enter", "Enter", 13),
    "tab": ("Tab", "Tab", 9),
    "backspace": ("Backspace", "Backspace", 8),
    "comma": (",", "Comma", 188),
    "period": (".", "Period", 190),
    "slash": ("/", "Slash", 191),
    "minus": ("-", "Minus", 189),
    "equal": ("=", "Equal", 187),
    "semicolon": (";", "Semicolon", 186),
    "apostrophe": ("'", "Quote", 222),
    "backslash": ("\\", "Backslash", 220),
    "bracketleft": ("[", "BracketLeft", 219),
    "bracketright": ("]", "BracketRight", 221),
    "quoteleft": ("`", "Backquote", 192),
    "delete": ("Delete", "Delete", 46),
    "home": ("Home", "Home", 36),
    "end": ("End", "End", 35),
    "insert": ("Insert", "Insert", 45),
    "pageup": ("PageUp", "PageUp", 33),
    "pagedown": ("PageDown", "PageDown", 34),
    "num_add": ("+", "NumpadAdd", 107),
    "num_subtract": ("-", "NumpadSubtract", 109),
    "num_multiply": ("*", "NumpadMultiply", 106),
    "num_divide": ("/", "NumpadDivide", 111),
    "num_decimal": (".", "NumpadDecimal", 110),
    "num_enter": ("Enter", "NumpadEnter", 13),
}
_NAMED.update({f"f{i}": (f"F{i}", f"F{i}", 111 + i) for i in range(1, 13)})
_NAMED.update({f"num_{i}": (str(i), f"Numpad{i}", 96 + i) for i in range(10)})


def _parts(name: str) -> tuple[str, str, int]:
    if name in _NAMED:
        return _NAMED[name]
    if len(name) == 1 and name.isascii() and name.isalnum():
        if name.isdigit():
            return name, f"Digit{name}", ord(name)
        return name.lower(), f"Key{name.upper()}", ord(name.upper())
    known = ", ".join(sorted(_NAMED)[:12])
    raise MRDError(
        f"key {name!r} has no browser equivalent: use a letter, a digit or one of {known}, ... "
        "(PsychoPy key names)"
    )


def browser_key(name: str) -> str:
    """How the task identifies a key: ``KeyboardEvent.key`` lower-cased (``KeyboardEvent.code`` for numpad keys)."""
    key, code, _ = _parts(name)
    return code.lower() if code.startswith("Numpad") else key.lower()


def browser_keymap(names: list[str]) -> dict[str, str]:
    """``{browser key: PsychoPy name}`` for the given names (the first name wins a shared key)."""
    out: dict[str, str] = {}
    for n in names:
        out.setdefault(browser_key(n), n)
    return out


def cdp_key(name: str) -> dict[str, Any]:
    """Parameters of a CDP ``Input.dispatchKeyEvent`` for a PsychoPy key name (without ``type``)."""
    key, code, vk = _parts(name)
    params: dict[str, Any] = {"key": key, "code": code, "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk}
    if len(key) == 1:
        params["text"] = key
    return params
