"""The screens of a session between trials: messages, the quit confirmation, instructions, breaks.

A mixin of :class:`psychophysics.session.OdditySession` (it uses the session's window, text stimulus,
key source and data). Message screens wait for a proceed key (a simulated observer presses it); a
break accepts it only after ``presentation.break_min_s`` and shows a countdown. A quit key anywhere asks
for confirmation (:meth:`Screens._guarded`): the quit key again ends the run, a proceed key goes on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psychophysics.design import Trial, round_accuracy


class SessionEnded(Exception):
    """Raised inside the trial loop when the participant quits or the process gets SIGTERM."""

    def __init__(self, reason: str, at: float | None = None, confirmed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.at = at  # key time of the (last) quit key
        self.confirmed = confirmed  # the quit key came twice already


class Screens:
    """Message screens of a session (mixin; see the module docstring)."""

    cfg: Any
    keys: Any
    keysrc: Any
    text: Any
    observer: Any
    prep: Any
    done: list[dict[str, Any]]
    _term_pending: bool

    def _flip(self) -> float:  # provided by the session
        raise NotImplementedError

    def _keys(self, key_list: list[str]) -> list[tuple[str, float]]:  # provided by the session
        raise NotImplementedError

    def _clear(self) -> None:  # provided by the session
        raise NotImplementedError

    def _message(self, text: str, min_s: float = 0.0, countdown: str = "") -> None:
        """Show a text until a proceed key (accepted after ``min_s`` seconds; the observer presses at once)."""
        self._clear()
        start = self.keysrc.now()
        injected = False
        while True:
            left = min_s - (self.keysrc.now() - start)
            self.text.text = text + (countdown.format(s=int(np.ceil(left))) if left > 0 and countdown else "")
            self.text.draw()
            self._flip()
            if left <= 0 and self.observer is not None and not injected:
                self.keysrc.inject(self.keys.proceed[0])
                injected = True
            keys = self._keys(self.keys.proceed)
            if keys and left <= 0:
                return

    def _confirm_quit(self, since: float | None = None) -> bool:
        """Ask whether to end: quit key again = end, proceed key = continue. SIGTERM still ends.

        Keys pressed after the quit key at time ``since`` count, even if they came before this screen.
        """
        quit_names, go = " or ".join(self.cfg.keys.quit), " or ".join(self.keys.proceed)
        self.text.text = (
            f"End the session now?\n\nPress {quit_names} again to end (everything so far is saved),\n"
            f"or {go} to continue."
        )
        while True:
            self.text.draw()
            self._flip()
            if self._term_pending:
                raise SessionEnded("SIGTERM")
            keys = [(k, t) for k, t in self.keysrc.get(self.cfg.keys.quit + self.keys.proceed)
                    if since is None or t > since]  # fmt: skip
            if keys:
                return keys[0][0] in self.cfg.keys.quit

    def _guarded(self, step: Any) -> Any:
        """Run ``step()``; a quit key asks for confirmation and, if declined, runs the step again."""
        while True:
            try:
                return step()
            except SessionEnded as ended:
                if ended.reason != "escape" or ended.confirmed or self._confirm_quit(ended.at):
                    raise

    def instructions(self) -> str:
        """The first screen's text, placeholders filled in."""
        k, p = self.keys, self.cfg.presentation
        spatial = p.mode == "spatial"
        names = ("left", "middle", "right") if spatial else ("first", "second", "third")
        keys = "\n".join(f"  {' or '.join(getattr(k, f'position_{i}'))}: {names[i - 1]}" for i in (1, 2, 3))
        n_practice = sum(t.block_type == "practice" and t.practice_round <= 1 for t in self.prep.trials)
        return p.instructions.format(
            keys=keys, proceed=" or ".join(k.proceed), quit=" or ".join(self.cfg.keys.quit),
            stimulus_ms=f"{p.stimulus_ms:g}", response_window_ms=f"{p.response_window_ms:g}",
            practice_trials=n_practice, correct_colour=p.correct_colour_name, incorrect_colour=p.incorrect_colour_name,
        )  # fmt: skip

    # -- between trials ---------------------------------------------------------------------------
    def _main_accuracy(self) -> tuple[int, int]:
        """Main-block metamer trials so far (catch and noise-floor trials excluded): (n, correct)."""
        rows = [
            r for r in self.done
            if r["block_type"] == "main" and str(r["is_catch"]) == "0"
            and (r.get("trial_type") or "metamer") == "metamer"
        ]  # fmt: skip
        return len(rows), sum(int(r["correct"]) for r in rows)

    def _between(self, prev: Trial, trial: Trial) -> None:
        """Screens between two trials: end of a practice round, breaks between main blocks."""
        p, go = self.cfg.presentation, " or ".join(self.keys.proceed)
        if prev.block_type == "practice":
            if trial.block_type == "practice" and trial.practice_round > prev.practice_round:
                acc = round_accuracy(self.done, prev.practice_round) or 0.0
                need = self.cfg.design.practice_criterion
                self._message(
                    f"Practice accuracy: {100 * acc:.0f} %. {100 * need:.0f} % is needed to go on.\n\n"
                    f"One more practice round follows. Press {go} to start it."
                )
            elif trial.block_type == "main":
                self._message(f"Practice is over. The main part begins (no feedback).\n\nPress {go} to start.")
            return
        if trial.block != prev.block:
            n_blocks = max(t.block for t in self.prep.trials)
            n, k = self._main_accuracy()
            acc = f"Accuracy so far: {100 * k / n:.0f} %\n\n" if p.show_running_accuracy and n else ""
            self._message(
                f"Break: block {prev.block} of {n_blocks} done.\n\n{acc}Rest your eyes for a moment.\n\n"
                f"Press {go} to continue.",
                min_s=p.break_min_s, countdown="\n\n(you can continue in {s} s)",
            )  # fmt: skip
