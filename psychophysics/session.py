"""The PsychoPy oddity session: a window, pixel-exact images, frame-counted trials, data after every trial.

A run opens a window (full screen by default for participants; ``--windowed`` for development), builds
the PsychoPy monitor from ``[monitor]`` (never PsychoPy's monitor database), measures the refresh rate
(median of 100 flip intervals while drawing three images; :func:`psychophysics.display.timing_warning`
prints and records a warning when flips are not synchronised) and converts every duration to whole
frames. Images are drawn 1:1 in ``pix`` units at whole-pixel positions after a whole-number enlargement
and the display calibration (:mod:`psychophysics.display`, :mod:`psychophysics.images`,
:mod:`psychophysics.calibration`).

Each trial: fixation, stimulus (spatial: three images side by side for ``stimulus_ms``; temporal: three
intervals separated by ``isi_ms``), an optional noise mask, then the response window (keys during the
stimulus count too; ``rt`` runs from the first stimulus onset flip). The stimulus duration actually shown
is measured from the flip times (onset flip to the first flip without the images) and written with the
row (``stimulus_frames_measured``, ``stimulus_ms_measured``). The row is written and fsync'd as soon as
the response is in, then feedback (practice, or main if configured) and the inter-trial interval follow.

A quit key (``keys.quit``) asks for confirmation: the quit key again ends the run (everything saved,
``end_reason: "escape"``); a proceed key continues (a trial that was interrupted is shown again from its
start; nothing of it had been written). SIGTERM ends the run at the next frame (the handler only sets a
flag). Any other error ends the run with ``end_reason: "error: ..."`` and ``completed: false``.

Examples
--------
>>> frames(200, 60.0), frames(1, 60.0), frames(0, 60.0)
(12, 1, 0)
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np

from psychophysics.calibration import colour_through, describe, drive_table
from psychophysics.datafile import trial_row
from psychophysics.design import Trial, round_accuracy, skip_trial
from psychophysics.display import layout, timing_warning
from psychophysics.images import TrialImages
from psychophysics.observers import Observer
from psychophysics.preparation import Prepared, end_run, start_run
from psychophysics.screens import Screens, SessionEnded
from stimuli.errors import MRDError

__all__ = ["OdditySession", "SessionEnded", "ask_participant", "frames"]


def frames(ms: float, rate_hz: float) -> int:
    """Whole frames closest to ``ms`` at ``rate_hz`` (at least 1 for a positive duration)."""
    if ms <= 0:
        return 0
    return max(1, int(round(ms * rate_hz / 1000.0)))


def ask_participant(participant: str | None, session: int, attempts: int = 5) -> tuple[str, int]:
    """Ask for participant id and session in PsychoPy's dialog (needs Qt and a display).

    An invalid id or session asks again (up to ``attempts`` times), saying what is wrong.

    Raises
    ------
    MRDError
        If the dialog is cancelled or every attempt was invalid.
    """
    from psychopy import gui

    from psychophysics.datafile import check_participant

    info = {"participant": participant or "", "session": str(session)}
    problem = ""
    for _ in range(attempts):
        title = "MRD oddity experiment" + (f" - {problem}" if problem else "")
        dlg = gui.DlgFromDict(info, title=title[:200], sortKeys=False)
        if not dlg.OK:
            raise MRDError("the participant dialog was cancelled; nothing was run")
        try:
            pid, ses = str(info["participant"]).strip(), int(str(info["session"]).strip())
            check_participant(pid, ses)
            return pid, ses
        except ValueError:
            problem = f"session {info['session']!r} is not a whole number"
        except MRDError as exc:
            problem = str(exc)
        print(f"mrd experiment: {problem}; asking again", file=sys.stderr)
    raise MRDError(f"no valid participant id and session after {attempts} attempts ({problem}); nothing was run")


class OdditySession(Screens):
    """One run of the oddity experiment in a PsychoPy window.

    Parameters
    ----------
    prep : Prepared
        From :func:`psychophysics.preparation.prepare`.
    fullscreen : bool
        Full screen (participants) or a window of ``monitor.window_size`` (development).
    observer : Observer, optional
        A simulated observer that answers through injected key events.
    screenshot_dir : str or Path, optional
        Save the back buffer of each trial's first stimulus frame there as ``trial-NNNN.png``.
    """

    def __init__(
        self, prep: Prepared, fullscreen: bool = False, observer: Observer | None = None,
        screenshot_dir: str | Path | None = None,
    ) -> None:  # fmt: skip
        self.prep, self.cfg = prep, prep.config
        self.keys = prep.keys
        self.fullscreen = fullscreen
        self.observer = observer
        self.rng = np.random.default_rng(prep.seed + prep.n_done + 1)
        self.screenshot_dir = Path(screenshot_dir) if screenshot_dir else None
        self.table = drive_table(self.cfg.monitor)
        self._term_pending = False
        self.n_done = prep.n_done
        self.done: list[dict[str, Any]] = [dict(r) for r in prep.rows]

    # -- set-up -----------------------------------------------------------------------------------
    def _open(self) -> None:
        from psychopy import core, monitors, visual
        from psychopy.tools.monitorunittools import deg2pix

        from psychophysics.responses import KeySource

        self.core = core
        m, p = self.cfg.monitor, self.cfg.presentation
        self.monitor = monitors.Monitor(m.name, width=m.width_cm, distance=m.distance_cm, autoLog=False)
        self.monitor.setSizePix(list(m.resolution))
        size = m.resolution if self.fullscreen else m.window_size
        self.win = visual.Window(
            size=list(size), fullscr=self.fullscreen, screen=m.screen, monitor=self.monitor, units="deg",
            color=colour_through(self.table, p.background), colorSpace="rgb", allowGUI=False,
            checkTiming=False, winType="pyglet",
        )  # fmt: skip
        self.win.mouseVisible = False
        self.keysrc = KeySource(self.cfg.keys.backend, simulated=self.observer is not None)
        self.ppd = float(deg2pix(1.0, self.monitor))
        first = self.prep.trials[min(self.n_done, len(self.prep.trials) - 1)]
        self.images = TrialImages(self.prep.store, self.table, 1)
        h, w = self.images.arrays(first)[0].shape[:2]
        self.layout = layout(p, (int(self.win.size[0]), int(self.win.size[1])), self.ppd, (h, w))
        self.images.scale = self.layout.scale
        self.img_stims = [
            visual.ImageStim(self.win, size=self.layout.image_px, pos=pos, units="pix", interpolate=False)
            for pos in self.layout.centres_pix
        ]
        noise = np.random.default_rng(1).integers(0, 256, (h, w, 3), dtype=np.uint8)
        from PIL import Image

        big = np.repeat(np.repeat(noise, self.layout.scale, 0), self.layout.scale, 1)
        self.mask_stims = [
            visual.ImageStim(self.win, image=Image.fromarray(big), size=self.layout.image_px, pos=pos,
                             units="pix", interpolate=False)
            for pos in self.layout.centres_pix
        ]  # fmt: skip
        self.fixation = visual.ShapeStim(
            self.win, vertices="cross", size=p.fixation_size_deg, units="deg",
            fillColor=list(p.fixation_colour), lineColor=list(p.fixation_colour),
        )  # fmt: skip
        self.text = visual.TextStim(self.win, text="", height=p.text_height_deg, units="deg", wrapWidth=30, color=[1, 1, 1])
        self.rate, self.timing_note = self._measure_rate()
        self.period = 1.0 / self.rate
        self.n = {
            k: frames(getattr(p, f"{k}_ms"), self.rate)
            for k in ("stimulus", "isi", "fixation", "mask", "response_window", "iti", "feedback")
        }

    def _measure_rate(self) -> tuple[float, str | None]:
        """Median flip interval over 100 frames that draw what a trial draws (three images)."""
        self.win.recordFrameIntervals = True
        for _ in range(110):
            for stim in self.mask_stims:
                stim.draw()
            self.win.flip()
        self.win.recordFrameIntervals = False
        intervals = np.asarray(self.win.frameIntervals[10:], float)
        self.win.frameIntervals = []
        nominal = self.cfg.monitor.nominal_refresh_hz
        note = timing_warning(intervals, nominal)
        if note:
            print(f"mrd experiment: warning: {note}", file=sys.stderr, flush=True)
        med = float(np.median(intervals)) if intervals.size else 0.0
        return (1.0 / med if med > 0 else nominal), note

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        """Only mark the request: the frame loops end the run at the next frame."""
        self._term_pending = True

    # -- keys -------------------------------------------------------------------------------------
    def _keys(self, key_list: list[str]) -> list[tuple[str, float]]:
        """Keys from ``key_list`` with times; ends the run on a quit key or SIGTERM."""
        keys = self.keysrc.get(key_list + self.cfg.keys.quit)
        self._check_end(keys)
        return keys

    def _check_end(self, keys: list[tuple[str, float]]) -> None:
        if self._term_pending:
            raise SessionEnded("SIGTERM")
        quits = [t for k, t in keys if k in self.cfg.keys.quit]
        if quits:
            raise SessionEnded("escape", quits[-1] if len(quits) > 1 else quits[0], confirmed=len(quits) > 1)

    def _clear(self) -> None:
        """Discard pending keys, but honour a quit key among them."""
        self._check_end(self.keysrc.clear())

    def _flip(self) -> float:
        """Flip; return the time the flip returned (after the buffer swap) on the key clock."""
        self.win.flip()
        return self.keysrc.now()

    def _flip_for(self, n: int, stims: list[Any]) -> None:
        """Show ``stims`` for ``n`` frames, watching for the quit keys."""
        for _ in range(n):
            for s in stims:
                s.draw()
            self._flip()
            self._keys([])

    # -- a trial ----------------------------------------------------------------------------------
    def _schedule(self) -> list[tuple[str, list[Any]]]:
        """Frames of the timed part: (phase, stimuli to draw); ends with the first frame after the images."""
        fix, n = [self.fixation], self.n
        out: list[tuple[str, list[Any]]] = [("fixation", fix)] * n["fixation"]
        if self.cfg.presentation.mode == "spatial":
            out += [("stimulus", list(self.img_stims))] * n["stimulus"]
            out += [("mask", list(self.mask_stims))] * n["mask"]
        else:
            for i in range(3):
                out += [(f"stimulus{i}", [self.img_stims[i]])] * n["stimulus"]
                out += [("mask", [self.mask_stims[i]])] * n["mask"]
                if i < 2:
                    out += [("isi", fix)] * n["isi"]
        return [*out, ("offset", fix)]

    def run_trial(self, trial: Trial) -> dict[str, Any]:
        """Present one trial and return its CSV row (not yet written)."""
        for stim, img in zip(self.img_stims, self.images.pil(trial), strict=True):
            stim.image = img
        resp = self.keys.response_keys
        response: tuple[str, float] | None = None
        onset: float | None = None
        spans: list[float] = []
        start: float | None = None
        self._clear()
        self.win.frameIntervals = []
        self.win.recordFrameIntervals = True
        prev = ""
        for phase, stims in self._schedule():
            for s in stims:
                s.draw()
            if phase.startswith("stimulus") and onset is None and self.screenshot_dir is not None:
                self.screenshot_dir.mkdir(parents=True, exist_ok=True)
                self.win.getMovieFrame(buffer="back").save(self.screenshot_dir / f"trial-{trial.trial:04d}.png")
            t = self._flip()
            if phase.startswith("stimulus") and phase != prev:
                start = t
                onset = t if onset is None else onset
            if prev.startswith("stimulus") and phase != prev and start is not None:
                spans.append(t - start)
            prev = phase
            keys = self._keys(resp)
            valid = [k for k in keys if onset is not None and k[1] >= onset]  # before onset: discarded
            if valid and response is None:
                response = valid[0]
        self.win.recordFrameIntervals = False
        intervals = np.asarray(self.win.frameIntervals, float) * 1000.0
        stats = (
            float(intervals.mean()) if intervals.size else None,
            float(intervals.std(ddof=1)) if intervals.size > 1 else None,
            int(np.sum(intervals > 1500.0 * self.period)),
        )
        if response is None:
            response = self._response_window(trial, resp)
        key, t_key = response if response is not None else (None, None)
        rt = (t_key - onset) if (t_key is not None and onset is not None) else None
        pos = self.keys.position_of(key) if key else None
        shown_s = float(sum(spans))
        timing = {
            "stimulus_frames": self.n["stimulus"] * (1 if self.cfg.presentation.mode == "spatial" else 3),
            "stimulus_frames_measured": int(round(shown_s / self.period)),
            "stimulus_ms_measured": 1000.0 * shown_s,
        }
        return trial_row(self.prep.files.participant, self.prep.files.session, trial, key, pos, rt, stats, timing)

    def _response_window(self, trial: Trial, resp: list[str]) -> tuple[str, float] | None:
        if self.observer is not None:
            choice = self.observer.choose(trial, self.rng)
            if choice is not None:
                self.keysrc.inject(self.keys.key_for(choice))
        for _ in range(max(0, self.n["response_window"] - 1)):  # the offset frame was the first
            self.fixation.draw()
            self._flip()
            keys = self._keys(resp)
            if keys:
                return keys[0]
        return None

    def _feedback(self, correct: bool) -> None:
        p = self.cfg.presentation
        colour = list(p.correct_colour if correct else p.incorrect_colour)
        self.fixation.fillColor = self.fixation.lineColor = colour
        try:
            self._flip_for(self.n["feedback"], [self.fixation])
        finally:
            self.fixation.fillColor = self.fixation.lineColor = list(p.fixation_colour)

    # -- the run ----------------------------------------------------------------------------------
    def run(self) -> tuple[int, str]:
        """Run the remaining trials.

        Returns
        -------
        n_done : int
            Index in the plan reached (all planned trials run or skipped = complete).
        reason : str
            ``"completed"``, ``"escape"``, ``"SIGTERM"``; ``"interrupted"`` (Ctrl+C, re-raised) and
            ``"error: ..."`` (any other exception, re-raised) are recorded in the sidecar.
        """
        prep, p = self.prep, self.cfg.presentation
        self.n_done, reason = prep.n_done, "error: the session ended unexpectedly"
        criterion = self.cfg.design.practice_criterion
        old = signal.signal(signal.SIGTERM, self._on_sigterm)
        self.win = None
        try:
            self._open()
            run_info = {
                "durations_frames": self.n, "fullscreen": self.fullscreen,
                "window_size_px": [int(v) for v in self.win.size], "pixels_per_degree": self.ppd,
                "observer": self.observer.name if self.observer else None, "layout": self.layout.to_dict(),
                "keyboard": self.keysrc.info(), "timing_warning": self.timing_note,
                "calibration": describe(self.cfg.monitor, self.table),
            }  # fmt: skip
            start_run(prep, self.rate, run_info)
            prep.sidecar.update(durations_frames=self.n, calibration=run_info["calibration"],
                                keyboard=run_info["keyboard"])  # fmt: skip
            if self.cfg.monitor.calibration == "none":
                print(f"mrd experiment: note: {run_info['calibration']['statement']}", file=sys.stderr)
            welcome = "Welcome back. The session continues where it stopped.\n\n" if self.n_done else ""
            self._guarded(lambda: self._message(welcome + self.instructions()))
            last: Trial | None = prep.trials[self.n_done - 1] if self.n_done else None
            for trial in list(prep.trials[self.n_done :]):
                if skip_trial(trial, self.done, criterion):
                    self.n_done += 1
                    continue
                if last is not None and self.n_done > prep.n_done:
                    self._guarded(lambda last=last, trial=trial: self._between(last, trial))
                row = self._guarded(lambda trial=trial: self.run_trial(trial))
                prep.files.append(row)
                self.done.append(row)
                self.n_done += 1
                last = trial
                if trial.block_type == "practice" or p.feedback_in_main:
                    self._guarded(lambda row=row: self._feedback(bool(row["correct"])))
                self._guarded(lambda: self._flip_for(self.n["iti"], []))
            reason = "completed"
            self._guarded(
                lambda: self._message(
                    f"The session is complete. Thank you!\n\nPress {' or '.join(self.keys.proceed)} to finish."
                )
            )
        except SessionEnded as ended:
            reason = "completed" if (ended.reason == "escape" and reason == "completed") else ended.reason
        except KeyboardInterrupt:
            reason = "interrupted"
            raise
        except Exception as exc:
            reason = f"error: {type(exc).__name__}: {str(exc)[:300]}"
            raise
        finally:
            prep.files.close()
            if prep.sidecar["runs"]:
                practice = {
                    str(r): round_accuracy(self.done, r)
                    for r in sorted({t.practice_round for t in prep.trials if t.block_type == "practice"})
                }
                end_run(prep, self.n_done, reason, n_rows=len(self.done), practice_accuracy_by_round=practice)
            if self.win is not None:
                self.win.close()
            signal.signal(signal.SIGTERM, old)
        return self.n_done, reason
