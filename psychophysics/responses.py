"""Key presses with their times: PsychoPy's Keyboard (psychtoolbox) when it works, else psychopy.event.

``[keys] backend``:

``"ptb"``
    ``psychopy.hardware.keyboard.Keyboard(backend="ptb")``: psychtoolbox's keyboard queue stamps every
    press when it happens (sub-millisecond), independent of the frame loop. Needs the psychtoolbox
    package and, on Linux, Debian's ``libjack-jackd2-0`` (``scripts/setup_system.sh`` installs it).
``"event"``
    ``psychopy.event``: keys are stamped when the window dispatches its events, once per flip, so
    times are quantised to the frame. Simulated observers always use it: they answer by injecting key
    events through PsychoPy's documented emulation hook, which only this path sees.
``"auto"`` (default)
    ``ptb`` when it can be started, else ``event``; the reason is recorded.

Every time is on PsychoPy's ``core.getTime`` clock (seconds); :meth:`KeySource.info` goes into the
sidecar (backend, clock, resolution, why).
"""

from __future__ import annotations

from typing import Any


class KeySource:
    """Reads keys from the chosen backend.

    Parameters
    ----------
    choice : str
        ``"auto"``, ``"ptb"`` or ``"event"``.
    simulated : bool
        A simulated observer injects the keys (forces ``event``).
    """

    def __init__(self, choice: str, simulated: bool) -> None:
        from psychopy import core, event

        self._event, self._core = event, core
        self.kb: Any = None
        self.reason = ""
        if simulated:
            self.reason = "a simulated observer injects key events, which only psychopy.event sees"
        elif choice in ("auto", "ptb"):
            try:
                from psychopy.hardware import keyboard

                if not keyboard.havePTB:
                    raise RuntimeError("psychtoolbox cannot be imported (on Linux it needs libjack-jackd2-0)")
                self.kb = keyboard.Keyboard(backend="ptb")
                self.kb.getKeys(waitRelease=False)
            except Exception as exc:  # any failure to start the backend falls back, recorded
                if choice == "ptb":
                    from stimuli.errors import MRDError

                    raise MRDError(f"keys.backend = 'ptb': psychtoolbox's keyboard cannot start ({exc})") from None
                self.kb = None
                self.reason = f"psychtoolbox keyboard unavailable ({exc}); fell back to psychopy.event"
        else:
            self.reason = "keys.backend = 'event'"
        self.backend = "ptb" if self.kb is not None else "event"

    def info(self) -> dict[str, Any]:
        """What the sidecar records about response timing."""
        if self.backend == "ptb":
            return {
                "backend": "psychopy.hardware.keyboard (psychtoolbox)",
                "clock": "psychopy.core.getTime (psychtoolbox GetSecs, monotonic)",
                "resolution": "key-down times from psychtoolbox's keyboard queue (sub-millisecond)",
                "reason": self.reason or "keys.backend = 'auto': psychtoolbox available",
            }
        return {
            "backend": "psychopy.event",
            "clock": "psychopy.core.getTime",
            "resolution": "one frame: keys are stamped when the window dispatches events at each flip",
            "reason": self.reason,
        }

    def get(self, key_list: list[str] | None = None) -> list[tuple[str, float]]:
        """Keys pressed since the last call, ``(name, time)``, oldest first (``key_list``: only those)."""
        if self.kb is not None:
            keys = self.kb.getKeys(keyList=key_list, waitRelease=False)
            out = []
            for k in keys:
                name = k.name if isinstance(k.name, str) else str(k.name[0])
                out.append((name, float(k.tDown)))
            return out
        got = self._event.getKeys(keyList=key_list, timeStamped=True)
        return [(str(k[0]), float(k[-1])) for k in got]

    def clear(self) -> list[tuple[str, float]]:
        """Drop pending keys, returning them (so a quit key among them can still be honoured)."""
        pending = self.get(None)
        if self.kb is not None:
            self._event.clearEvents()
        return pending

    def inject(self, key: str) -> None:
        """A simulated key press (``event`` backend only)."""
        self._event._onPygletKey(key, 0, emulated=True)

    def now(self) -> float:
        """The current time on the clock of the key times."""
        return float(self._core.getTime())
