"""Simulated participants in the browser: an observer model answers the online task through real
key events, the way ``mrd experiment --simulate`` answers the lab session.

The driver reads what the page announces on ``window.mrd`` (which stage is showing; on a trial,
the planned trial once its response window is open), and acts as a person would: clicks the
fullscreen button, drags the credit card's corner to the size a given screen would need
(``px_per_mm``), presses the space bar through the blind-spot measurement, presses the proceed key on
every message, and on every trial presses the key of the position its observer chooses
(:meth:`psychophysics.observers.Observer.choose`) with CDP ``Input.dispatchKeyEvent``.

Examples
--------
>>> card_drag(250, 3.78)
36.8
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psychophysics.online.cdp import Browser, CDPError
from stimuli.errors import MRDError

CARD_MM = 85.6
CARD_START_PX = 250  # the virtual-chinrest plugin's item_init_size


def card_drag(start_px: float, px_per_mm: float) -> float:
    """Horizontal drag (px) that resizes the card from ``start_px`` to ``85.6 mm`` (the plugin doubles drags)."""
    return round((CARD_MM * px_per_mm - start_px) / 2.0, 1)


class TrialSeededObserver:
    """An observer whose random draws are seeded by the trial, not by the order of calls.

    Wraps any :class:`psychophysics.observers.Observer`: ``choose(trial, rng)`` ignores ``rng`` and
    draws from ``numpy.random.default_rng([seed, trial.trial])``. Its answer to a trial therefore
    does not depend on how many draws came before (practice skipped, a resumed run, a different
    front end), so the browser and the lab session give the same answers to the same plan.

    Examples
    --------
    >>> import numpy as np
    >>> from psychophysics.observers import ChanceObserver
    >>> from psychophysics.design import Trial
    >>> t = Trial(1, "main", 5, 1, "m0", "s0", "net", "shape", 0, "metamer", 2, 0)
    >>> obs = TrialSeededObserver(ChanceObserver(), seed=3)
    >>> obs.choose(t, np.random.default_rng(0)) == obs.choose(t, np.random.default_rng(1))
    True
    """

    def __init__(self, inner: Any, seed: int = 0) -> None:
        self.inner, self.seed = inner, int(seed)
        self.name = f"{inner.name}-trial-seeded"

    @property
    def params(self) -> dict[str, Any]:
        """The wrapped observer's parameters and the seed."""
        return {"observer": self.inner.name, "params": self.inner.params, "seed": self.seed}

    def choose(self, trial: Any, rng: Any) -> int | None:
        """The wrapped observer's choice with draws from ``default_rng([seed, trial.trial])``."""
        import numpy as np

        return self.inner.choose(trial, np.random.default_rng([self.seed, int(trial.trial)]))


@dataclass
class Answer:
    """One answered trial, as the driver pressed it."""

    trial: int
    position: int | None
    key: str | None


@dataclass
class SimulatedParticipant:
    """Drives one page to the end (or until ``pause`` says stop).

    Parameters
    ----------
    browser : Browser
        The headless Chromium.
    observer : psychophysics.observers.Observer
        Chooses a position for each trial.
    keys : dict
        ``positions`` (three lists of PsychoPy key names, position 1..3) and ``proceed`` (list).
    rng : numpy.random.Generator
        The observer's random stream.
    px_per_mm : float
        Screen the simulated participant sits at (sets the card size it calibrates to).
    blindspot_wait_s : float
        Time between starting the blind-spot ball and pressing space.
    """

    browser: Browser
    observer: Any
    keys: dict[str, list[Any]]
    rng: Any
    px_per_mm: float = 3.78
    blindspot_wait_s: float = 0.3
    answers: list[Answer] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    _handled: set[int] = field(default_factory=set)
    _answered: set[int] = field(default_factory=set)

    def snapshot(self) -> dict[str, Any] | None:
        """What the page shows now (``window.mrd.snapshot()``), ``None`` before the task has loaded."""
        raw = self.browser.evaluate("window.mrd && window.mrd.snapshot ? JSON.stringify(window.mrd.snapshot()) : null")
        return json.loads(raw) if raw else None

    def _act(self, s: dict[str, Any]) -> None:
        from psychophysics.design import Trial

        sid, stage, dom, info = s["stageId"], s["stage"], s["dom"], s["info"]
        if not self.stages or self.stages[-1] != stage:
            self.stages.append(stage)
        if stage == "fullscreen" and dom["fullscreen"] and sid not in self._handled:
            self._handled.add(sid)
            self.browser.click("#jspsych-fullscreen-btn")
        elif stage == "calibration" and dom["resize"] and sid not in self._handled:
            self._handled.add(sid)
            self.browser.drag("#jspsych-resize-handle", card_drag(CARD_START_PX, self.px_per_mm), 0.0)
            self.browser.click("#end_resize_phase")
        elif stage == "calibration" and dom["blindspot"]:
            self.browser.key("space")  # start the ball
            time.sleep(self.blindspot_wait_s)
            self.browser.key("space")  # "it disappeared"
            time.sleep(0.05)
        elif stage == "message" and sid not in self._handled:
            self._handled.add(sid)
            self.messages.append(str(self.browser.evaluate("document.body ? document.body.innerText : ''")).strip())
            self.browser.key(self.keys["proceed"][0])
        elif stage == "trial" and info.get("phase") == "response" and info.get("answerable"):
            plan = info.get("plan")
            if plan is None or plan["trial"] in self._answered:
                return
            self._answered.add(plan["trial"])
            trial = Trial.from_dict(plan)
            choice = self.observer.choose(trial, self.rng)
            key = self.keys["positions"][choice - 1][0] if choice is not None else None
            if key is not None:
                self.browser.key(key)
            self.answers.append(Answer(trial.trial, choice, key))
        elif stage == "fatal":
            raise MRDError(f"the online task stopped: {info.get('text')}")

    def run(self, pause: Callable[[dict[str, Any], SimulatedParticipant], bool] | None = None,
            timeout: float = 120.0, poll_s: float = 0.01) -> dict[str, Any]:
        """Act until the page reaches ``done`` or ``pause(snapshot, self)`` is true; return the last snapshot.

        Raises
        ------
        MRDError
            On timeout, on a page that stopped with an error, or when the browser went away.
        """
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            try:
                s = self.snapshot()
            except CDPError as exc:
                if "Execution context was destroyed" in str(exc) or "Cannot find context" in str(exc):
                    time.sleep(poll_s)
                    continue
                raise
            if s is not None:
                last = s
                if pause is not None and pause(s, self):
                    return s
                if s["stage"] == "done":
                    return s
                self._act(s)
            time.sleep(poll_s)
        errors = self.browser.console_errors()
        raise MRDError(f"simulated participant timed out after {timeout} s at {last}; page errors: {errors[:5]}")
