"""The PsychoPy oddity session: a window, frame-counted trials, data after every trial.

A run opens a window (units: degrees of visual angle through a ``psychopy.monitors.Monitor`` built
from the config's ``[monitor]`` table; nothing is saved to PsychoPy's monitor database), measures
the refresh rate (median of 100 flip intervals while drawing three images) and converts every
duration to whole frames. Each
trial: fixation, stimulus (spatial: three images side by side for ``stimulus_ms``; temporal: three
intervals separated by ``isi_ms``), an optional noise mask, then the response window (keys during
the stimulus count too; ``rt`` runs from the first stimulus onset). The row is written and
fsync'd as soon as the response is in, then feedback (practice, or main if configured) and the
inter-trial interval follow. Frame intervals of the timed part (fixation to mask offset) are
logged per trial; a dropped frame is an interval longer than 1.5 refresh periods.

Escape (any ``keys.quit`` key) or SIGTERM ends the run at the next frame with everything saved
and ``completed = false`` in the sidecar (the SIGTERM handler only sets a flag that every frame
loop checks, so no exception is ever raised inside PsychoPy, pyglet or h5py); ``--resume``
continues at the first unfinished trial; a SIGKILL loses at most the trial in progress.
Keys are read with ``psychopy.event``; simulated observers answer by injecting key events
(``event._onPygletKey(key, 0, emulated=True)``), so they drive the real session.

Examples
--------
>>> frames(200, 60.0), frames(1, 60.0), frames(0, 60.0)
(12, 1, 0)
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import numpy as np

from psychophysics.datafile import trial_row
from psychophysics.design import Trial
from psychophysics.images import TrialImages
from psychophysics.observers import Observer
from psychophysics.preparation import Prepared, end_run, start_run
from stimuli.errors import MRDError


class SessionEnded(Exception):
    """Raised inside the trial loop when the participant quits or the process gets SIGTERM."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def frames(ms: float, rate_hz: float) -> int:
    """Whole frames closest to ``ms`` at ``rate_hz`` (at least 1 for a positive duration)."""
    if ms <= 0:
        return 0
    return max(1, int(round(ms * rate_hz / 1000.0)))


def ask_participant(participant: str | None, session: int) -> tuple[str, int]:
    """Ask for participant id and session in PsychoPy's dialog (needs Qt and a display).

    Raises
    ------
    MRDError
        If the dialog is cancelled or the session is not an integer.
    """
    from psychopy import gui

    info = {"participant": participant or "", "session": str(session)}
    dlg = gui.DlgFromDict(info, title="MRD oddity experiment", sortKeys=False)
    if not dlg.OK:
        raise MRDError("the participant dialog was cancelled; nothing was run")
    try:
        return str(info["participant"]), int(info["session"])
    except ValueError:
        raise MRDError(f"session {info['session']!r} from the dialog is not an integer") from None


class OdditySession:
    """One run of the oddity experiment in a PsychoPy window.

    Parameters
    ----------
    prep : Prepared
        From :func:`psychophysics.preparation.prepare`.
    fullscreen : bool
        Full screen at ``monitor.resolution`` (else a window of ``monitor.window_size``).
    observer : Observer, optional
        A simulated observer that answers through injected key events.
    screenshot_dir : str or Path, optional
        Save the back buffer of each trial's first stimulus frame there as ``trial-NNNN.png``
        (costs a frame; for checks and methods figures).
    """

    def __init__(
        self,
        prep: Prepared,
        fullscreen: bool = False,
        observer: Observer | None = None,
        screenshot_dir: str | Path | None = None,
    ) -> None:
        self.prep, self.cfg = prep, prep.config
        self.fullscreen = fullscreen
        self.observer = observer
        self.rng = np.random.default_rng(prep.seed + prep.n_done + 1)
        self.screenshot_dir = Path(screenshot_dir) if screenshot_dir else None
        self.images = TrialImages(prep.store)
        self._term_pending = False
        self.n_done = prep.n_done

    # -- set-up -----------------------------------------------------------------------------------
    def _open(self) -> None:
        from psychopy import event, monitors, visual

        self.event = event
        m, p = self.cfg.monitor, self.cfg.presentation
        self.monitor = monitors.Monitor(m.name, width=m.width_cm, distance=m.distance_cm, autoLog=False)
        self.monitor.setSizePix(list(m.resolution))
        size = m.resolution if self.fullscreen else m.window_size
        self.win = visual.Window(
            size=list(size),
            fullscr=self.fullscreen,
            screen=m.screen,
            monitor=self.monitor,
            units="deg",
            color=list(p.background),
            colorSpace="rgb",
            allowGUI=False,
            checkTiming=False,
            winType="pyglet",
        )
        self.win.mouseVisible = False
        s = p.spacing_deg if p.mode == "spatial" else 0.0
        self.positions = [(-s, 0.0), (0.0, 0.0), (s, 0.0)]
        self.img_stims = [
            visual.ImageStim(self.win, size=p.image_size_deg, pos=pos, units="deg", interpolate=True)
            for pos in self.positions
        ]
        noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
        from PIL import Image

        self.mask_stims = [
            visual.ImageStim(
                self.win,
                image=Image.fromarray(noise),
                size=p.image_size_deg,
                pos=pos,
                units="deg",
                interpolate=False,
            )
            for pos in self.positions
        ]
        self.fixation = visual.ShapeStim(
            self.win,
            vertices="cross",
            size=p.fixation_size_deg,
            units="deg",
            fillColor=list(p.fixation_colour),
            lineColor=list(p.fixation_colour),
        )
        self.text = visual.TextStim(
            self.win, text="", height=p.text_height_deg, units="deg", wrapWidth=30, color=[1, 1, 1]
        )
        self.rate = self._measure_rate()
        self.period = 1.0 / self.rate
        self.n = {
            k: frames(getattr(p, f"{k}_ms"), self.rate)
            for k in ("stimulus", "isi", "fixation", "mask", "response_window", "iti", "feedback")
        }

    def _measure_rate(self) -> float:
        """Median flip interval over 100 frames that draw what a trial draws (three images)."""
        self.win.recordFrameIntervals = True
        for _ in range(110):
            for stim in self.mask_stims:
                stim.draw()
            self.win.flip()
        self.win.recordFrameIntervals = False
        intervals = np.asarray(self.win.frameIntervals[10:], float)
        self.win.frameIntervals = []
        med = float(np.median(intervals)) if intervals.size else 0.0
        if med <= 0:
            return self.cfg.monitor.nominal_refresh_hz
        if 1.0 / med > 500.0:
            from psychopy import logging

            logging.warning(
                f"measured refresh {1.0 / med:.0f} Hz: flips are not synchronised to a display "
                "(e.g. Xvfb); durations in frames will not match the configured ms"
            )
        return 1.0 / med

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        """Only mark the request: the frame loops end the run at the next frame (see :meth:`_keys`).

        Raising from the handler could interrupt PsychoPy, pyglet or h5py at any point.
        """
        self._term_pending = True

    # -- screens ----------------------------------------------------------------------------------
    def _keys(self, key_list: list[str], clock: Any = None) -> list[Any]:
        """Keys from ``key_list`` (with times if ``clock``); ends the run on a quit key or SIGTERM."""
        keys = self.event.getKeys(keyList=key_list + self.cfg.keys.quit, timeStamped=clock or False)
        self._check_end(keys)
        return keys

    def _check_end(self, keys: list[Any]) -> None:
        if self._term_pending:
            raise SessionEnded("SIGTERM")
        for k in keys:
            if (k if isinstance(k, str) else k[0]) in self.cfg.keys.quit:
                raise SessionEnded("escape")

    def _clear(self) -> None:
        """Discard pending keys, but honour a quit key among them (one pump, nothing lost unseen)."""
        self._check_end(self.event.getKeys())

    def _flip_for(self, n: int, stims: list[Any]) -> None:
        """Show ``stims`` for ``n`` frames, watching for the quit keys."""
        for _ in range(n):
            for s in stims:
                s.draw()
            self.win.flip()
            self._keys([])

    def _message(self, text: str) -> None:
        """Show a text until a proceed key (the simulated observer presses it at once)."""
        self.text.text = text
        self._clear()
        first = True
        while True:
            self.text.draw()
            self.win.flip()
            if first and self.observer is not None:
                self.event._onPygletKey(self.cfg.keys.proceed[0], 0, emulated=True)
            first = False
            if self._keys(self.cfg.keys.proceed):
                return

    def _instructions(self) -> str:
        k = self.cfg.keys
        spatial = self.cfg.presentation.mode == "spatial"
        names = ("left", "middle", "right") if spatial else ("first", "second", "third")
        keys = "\n".join(f"  {' or '.join(getattr(k, f'position_{i}'))}: {names[i - 1]}" for i in (1, 2, 3))
        return self.cfg.presentation.instructions.format(keys=keys, proceed=" or ".join(k.proceed))

    # -- a trial ----------------------------------------------------------------------------------
    def _schedule(self) -> list[tuple[str, list[Any]]]:
        """Frames of the timed part: (phase, stimuli to draw)."""
        fix, n = [self.fixation], self.n
        out: list[tuple[str, list[Any]]] = [("fixation", fix)] * n["fixation"]
        if self.cfg.presentation.mode == "spatial":
            out += [("stimulus", list(self.img_stims))] * n["stimulus"]
            out += [("mask", list(self.mask_stims))] * n["mask"]
        else:
            for i in range(3):
                out += [("stimulus", [self.img_stims[i]])] * n["stimulus"]
                out += [("mask", [self.mask_stims[i]])] * n["mask"]
                if i < 2:
                    out += [("isi", fix)] * n["isi"]
        return out

    def run_trial(self, trial: Trial) -> dict[str, Any]:
        """Present one trial and return its CSV row (not yet written)."""
        from psychopy import core

        for stim, img in zip(self.img_stims, self.images.pil(trial), strict=True):
            stim.image = img
        resp = [*self.cfg.keys.position_1, *self.cfg.keys.position_2, *self.cfg.keys.position_3]
        clock = core.Clock()
        response: tuple[str, float] | None = None
        onset_seen = False
        self._clear()
        self.win.frameIntervals = []
        self.win.recordFrameIntervals = True
        for phase, stims in self._schedule():
            for s in stims:
                s.draw()
            if phase == "stimulus" and not onset_seen:
                onset_seen = True
                self.win.callOnFlip(clock.reset)
                if self.screenshot_dir is not None:
                    self.screenshot_dir.mkdir(parents=True, exist_ok=True)
                    self.win.getMovieFrame(buffer="back").save(
                        self.screenshot_dir / f"trial-{trial.trial:04d}.png"
                    )
            self.win.flip()
            keys = self._keys(resp, clock if onset_seen else None)  # before onset: discarded
            valid = [k for k in keys if onset_seen and k[1] >= 0]  # type: ignore[index]
            if valid and response is None:
                response = valid[0]  # type: ignore[assignment]
        self.win.recordFrameIntervals = False
        intervals = np.asarray(self.win.frameIntervals, float) * 1000.0
        stats = (
            float(intervals.mean()) if intervals.size else None,
            float(intervals.std(ddof=1)) if intervals.size > 1 else None,
            int(np.sum(intervals > 1500.0 * self.period)),
        )
        if response is None:
            response = self._response_window(trial, resp, clock)
        key, rt = response if response is not None else (None, None)
        pos = self.cfg.keys.position_of(key) if key else None
        return trial_row(self.prep.files.participant, self.prep.files.session, trial, key, pos, rt, stats)

    def _response_window(self, trial: Trial, resp: list[str], clock: Any) -> tuple[str, float] | None:
        if self.observer is not None:
            choice = self.observer.choose(trial, self.rng)
            if choice is not None:
                self.event._onPygletKey(self.cfg.keys.key_for(choice), 0, emulated=True)
        for _ in range(self.n["response_window"]):
            self.fixation.draw()
            self.win.flip()
            keys = self._keys(resp, clock)
            if keys:
                return keys[0]  # type: ignore[return-value]
        return None

    def _feedback(self, correct: bool) -> None:
        p = self.cfg.presentation
        colour = list(p.correct_colour if correct else p.incorrect_colour)
        self.fixation.fillColor = self.fixation.lineColor = colour
        self._flip_for(self.n["feedback"], [self.fixation])
        self.fixation.fillColor = self.fixation.lineColor = list(p.fixation_colour)

    def _write(self, row: dict[str, Any]) -> None:
        self.prep.files.append(row)
        self.n_done += 1

    # -- the run ----------------------------------------------------------------------------------
    def run(self) -> tuple[int, str]:
        """Run the remaining trials.

        Returns
        -------
        n_done : int
            Trials on disk at the end.
        reason : str
            ``"completed"``, ``"escape"`` or ``"SIGTERM"`` (``"interrupted"`` is recorded in the sidecar
            when Ctrl+C ends the session; the KeyboardInterrupt then propagates).
        """
        prep, p = self.prep, self.cfg.presentation
        self.n_done, reason = prep.n_done, "completed"
        main_rows = [r for r in prep.rows if r["block_type"] == "main"]
        n_main, n_main_correct = len(main_rows), sum(int(r["correct"]) for r in main_rows)
        old = signal.signal(signal.SIGTERM, self._on_sigterm)
        self.win = None
        try:
            self._open()
            from psychopy.tools.monitorunittools import deg2pix

            run_info = {
                "durations_frames": self.n,
                "fullscreen": self.fullscreen,
                "window_size_px": [int(v) for v in self.win.size],
                "pixels_per_degree": float(deg2pix(1.0, self.monitor)),
                "observer": self.observer.name if self.observer else None,
            }
            start_run(prep, self.rate, run_info)
            prep.sidecar["durations_frames"] = self.n
            welcome = "Welcome back. The session continues where it stopped.\n\n" if self.n_done else ""
            self._message(welcome + self._instructions())
            for trial in prep.trials[self.n_done :]:
                prev = prep.trials[trial.trial - 2] if trial.trial > 1 else None
                if prev is not None and trial.block != prev.block and trial.trial - 1 > prep.n_done:
                    acc = (
                        f"Accuracy so far: {100 * n_main_correct / n_main:.0f} %\n\n"
                        if p.show_running_accuracy and n_main
                        else ""
                    )
                    head = (
                        "Practice is over. The main part begins."
                        if prev.block_type == "practice"
                        else "Break."
                    )
                    self._message(f"{head}\n\n{acc}Press {' or '.join(self.cfg.keys.proceed)} to continue.")
                row = self.run_trial(trial)
                self._write(row)
                if trial.block_type == "main":
                    n_main += 1
                    n_main_correct += row["correct"]
                if trial.block_type == "practice" or p.feedback_in_main:
                    self._feedback(bool(row["correct"]))
                self._flip_for(self.n["iti"], [])
            self._message(
                "The session is complete. Thank you!\n\n"
                f"Press {' or '.join(self.cfg.keys.proceed)} to finish."
            )
        except SessionEnded as ended:
            reason = ended.reason
        except KeyboardInterrupt:
            reason = "interrupted"
            raise
        finally:
            prep.files.close()
            if prep.sidecar["runs"]:
                end_run(prep, self.n_done, reason)
            if self.win is not None:
                self.win.close()
            signal.signal(signal.SIGTERM, old)
        return self.n_done, reason
