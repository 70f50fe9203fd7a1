"""``mrd demo``: the whole loop on the embedded default, end to end.

1. generate the ``stimuli/sets/demo.toml`` stimulus set on this machine (CPU unless a GPU is usable),
   with the offline ImageNet MobileNetV2;
2. run three simulated participants (the model observer, with decision noise) through the real
   PsychoPy oddity session when a display can be had (under Xvfb on a headless machine), else through
   the window-less simulation (said so);
3. analyse: tables, figures, ``report.html``;
4. print where everything is and what to open.

Every stage is skipped when its output already exists, so an interrupted demo resumes. Output of an
earlier demo made from a different demo config (e.g. before an update) is moved aside whole, never
deleted (:func:`set_aside_stale`).

Examples
--------
>>> default_config().name
'demo.toml'
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

PARTICIPANTS = ("sim01", "sim02", "sim03")


def default_config() -> Path:
    """The shipped demo stimulus-set config."""
    return Path(str(resources.files("stimuli") / "sets" / "demo.toml"))


def demo_experiment_config() -> Path:
    """The shipped demo experiment config (short practice, four repeats per cell)."""
    return Path(str(resources.files("psychophysics") / "experiments" / "demo.toml"))


def display_usable() -> bool:
    """Whether a PsychoPy window can open here (an X display that PsychoPy can use).

    Examples
    --------
    >>> isinstance(display_usable(), bool)
    True
    """
    if not os.environ.get("DISPLAY"):
        return False
    probe = "from psychopy import visual; w = visual.Window((64, 64), fullscr=False); w.close()"
    try:
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0


def set_aside_stale(out: Path, store: Path, config: Path) -> Path | None:
    """Move ``out`` to ``out.previous-TIMESTAMP`` when ``store`` was made from another config text.

    The sessions and analysis in ``out`` belong to that store, so the folder moves whole; nothing
    is deleted. Returns the new place of the old output, or None when nothing was moved.

    Examples
    --------
    >>> import tempfile
    >>> from stimuli.testing import write_synthetic_store
    >>> d = Path(tempfile.mkdtemp()) / "demo_output"
    >>> d.mkdir()
    >>> _ = write_synthetic_store(d / "demo.h5", config_text="old = 1")
    >>> (cfg := d.parent / "demo.toml").write_text("new = 2")
    7
    >>> moved = set_aside_stale(d, d / "demo.h5", cfg)
    >>> (moved / "demo.h5").exists(), d.exists()
    (True, False)
    """
    import h5py

    from stimuli.writer import sha256_text

    if not store.exists():
        return None
    try:
        with h5py.File(store, "r") as f:
            stored = str(f.attrs.get("config_sha256", ""))
    except OSError:
        return None  # not readable: generate() reports it with the file name
    if stored == sha256_text(config.read_text(encoding="utf-8")):
        return None
    aside = out.with_name(f"{out.name}.previous-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while aside.exists():
        aside = out.with_name(f"{out.name}.previous-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    out.rename(aside)
    return aside


@dataclass
class DemoResult:
    """Where the demo put things, and how it ran."""

    out: Path
    store: Path
    data_dir: Path
    analysis_dir: Path
    report: Path
    sheet: Path
    windowed: bool
    seconds: dict[str, float] = field(default_factory=dict)


def _stage(name: str) -> None:
    print(f"\n=== {name} ===", flush=True)


def run_demo(out: str | os.PathLike[str] = "demo_output", config: str | os.PathLike[str] | None = None,
             experiment_config: str | os.PathLike[str] | None = None, windowed: bool | None = None,
             participants: tuple[str, ...] = PARTICIPANTS, n_boot: int = 500) -> DemoResult:
    """Run the demo loop; return where its outputs are.

    Parameters
    ----------
    out : path-like
        Output folder (created; stages already done there are skipped).
    config : path-like, optional
        Stimulus-set config (default: the shipped demo config).
    experiment_config : path-like, optional
        Experiment config (default: the shipped demo experiment config).
    windowed : bool, optional
        Force (True) or forbid (False) the real PsychoPy session; default: when a display is usable.
    participants : tuple of str
        Simulated participant ids.
    n_boot : int
        Bootstrap replicates in the analysis.
    """
    from analysis.api import analyze, write_outputs
    from mrd.synthesis.generate import generate
    from psychophysics.simulate import simulate_participants
    from stimuli.sheet import contact_sheet

    out = Path(out)
    config = Path(config) if config else default_config()
    exp = Path(experiment_config) if experiment_config else demo_experiment_config()
    store, data_dir, analysis_dir = out / "demo.h5", out / "data", out / "analysis"
    aside = set_aside_stale(out, store, config)
    if aside is not None:
        print(f"{store} was made from another demo config (an earlier version?): that whole demo output "
              f"was moved to {aside} (nothing deleted); starting afresh in {out}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    _stage(f"1/4 generate the stimulus set ({config.name}) -> {store}")
    t = time.perf_counter()
    summary = generate(config, store, progress=True)
    seconds["generate"] = time.perf_counter() - t
    print(f"{len(summary.made)} metamers made, {len(summary.skipped)} already there "
          f"(variant {summary.variant}, device {summary.device})")
    sheet = contact_sheet(store, out / "contact_sheet.png")

    if windowed is None:
        windowed = display_usable()
    t = time.perf_counter()
    if windowed:
        _stage(f"2/4 three simulated participants through the real PsychoPy session -> {data_dir}")
        for pid in participants:
            if (data_dir / f"sub-{pid}_ses-1_session.json").exists():
                print(f"{pid}: session already recorded, skipped")
                continue
            cmd = [sys.executable, "-m", "mrd.cli", "experiment", "--stimuli", str(store), "--participant", pid,
                   "--session", "1", "--config", str(exp), "--data-dir", str(data_dir), "--simulate", "model"]
            print(f"{pid}: {' '.join(cmd[2:])}", flush=True)
            subprocess.run(cmd, check=True)
    else:
        _stage(f"2/4 three simulated participants, window-less (no display could be opened) -> {data_dir}")
        existing = [pid for pid in participants if (data_dir / f"sub-{pid}_ses-1_session.json").exists()]
        if len(existing) == len(participants):
            print("sessions already recorded, skipped")
        else:
            simulate_participants(store, len(participants), "model", data_dir, seed=0, config_path=exp)
    seconds["experiment"] = time.perf_counter() - t

    _stage(f"3/4 analyse -> {analysis_dir}")
    t = time.perf_counter()
    result = analyze(stimuli=store, data=data_dir, out=analysis_dir, n_boot=n_boot, progress=True)
    write_outputs(result, analysis_dir)
    seconds["analyze"] = time.perf_counter() - t

    res = DemoResult(out=out, store=store, data_dir=data_dir, analysis_dir=analysis_dir,
                     report=analysis_dir / "report.html", sheet=sheet, windowed=windowed, seconds=seconds)
    _stage("4/4 done")
    print(f"""Open the report:        {res.report.resolve()}
Targets and metamers:   {res.sheet.resolve()}
Stimulus set:           {store.resolve()}   (mrd inspect {store})
Session data:           {data_dir.resolve()}/ (one CSV row per trial + a JSON sidecar per session)
Tables and figures:     {analysis_dir.resolve()}/tables, {analysis_dir.resolve()}/figures
Timing: generate {seconds['generate']:.0f} s, experiment {seconds['experiment']:.0f} s ({'PsychoPy window' if windowed else 'window-less'}), analyse {seconds['analyze']:.0f} s""")
    return res
