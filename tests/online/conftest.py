"""Fixtures of the online tests: a stimulus set with renders, a bundle, the real server and browser.

Chromium (Debian's ``chromium``) and jsPsych (``npm ci``, both installed by ``make setup``) are
required: a test that needs them FAILS when they are missing, so CI cannot pass without running
them. Set ``MRD_ALLOW_NO_BROWSER=1`` to skip those tests instead (a machine without the browser).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from storebuild import build_store  # noqa: E402

from psychophysics.online.bundle import NODE_MODULES, VENDOR_FILES  # noqa: E402
from psychophysics.online.cdp import find_chromium  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PARTICIPANTS = ["P01", "P02", "P03", "P04", "P05", "P06"]
FAST_CONFIG = """
[presentation]
stimulus_ms = 30
fixation_ms = 10
response_window_ms = 2000
iti_ms = 0
feedback_ms = 10
isi_ms = 10
image_size_deg = 4.0
spacing_deg = 6.0
break_min_s = 0

[design]
practice_trials = 3
break_every = 5
catch_trials = 1
only_successful = false

[monitor]
window_size = [640, 480]
resolution = [640, 480]
width_cm = 30.0
distance_cm = 57.0
"""


def _need(what: str, ok: bool, how: str) -> None:
    if ok:
        return
    message = f"{what} is missing: {how}"
    if os.environ.get("MRD_ALLOW_NO_BROWSER") == "1":
        pytest.skip(message + " (skipped: MRD_ALLOW_NO_BROWSER=1)")
    pytest.fail(message + " (set MRD_ALLOW_NO_BROWSER=1 to skip instead)", pytrace=False)


@pytest.fixture(scope="session")
def need_jspsych() -> None:
    """jsPsych in node_modules (``npm ci``), needed to export a bundle."""
    ok = all((NODE_MODULES / rel).is_file() for rel in VENDOR_FILES.values())
    _need("jsPsych (psychophysics/online/node_modules)", ok, "run `make setup` (npm ci --prefix psychophysics/online)")


@pytest.fixture(scope="session")
def need_chromium() -> str:
    """The system Chromium."""
    exe = find_chromium()
    _need("Chromium", exe is not None, "run scripts/setup_system.sh as root (apt-get install chromium)")
    return exe  # type: ignore[return-value]


@pytest.fixture(scope="session")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("store") / "set.h5")


@pytest.fixture(scope="session")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "fast.toml"
    path.write_text(FAST_CONFIG, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory, store_path: Path, config_path: Path, need_jspsych: None) -> Path:
    from psychophysics.online.bundle import export_bundle

    out = tmp_path_factory.mktemp("bundle") / "web"
    export_bundle(store_path, out, PARTICIPANTS, config_path, calibration="card", progress=False)
    return out


def _cli(args: list[str]) -> list[str]:
    return [sys.executable, "-c", "import sys; from mrd.cli import main; sys.exit(main(sys.argv[1:]))", *args]


class ServerProcess:
    """``mrd serve-online`` in a subprocess that a test can kill and restart on the same port."""

    def __init__(self, bundle: Path, data_dir: Path, home: Path) -> None:
        self.bundle, self.data_dir, self.home = bundle, data_dir, home
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> str:
        # The child appends to its own log file (O_APPEND) and the test reads it through a separate
        # descriptor: a shared offset would let the test's seek(0) make the child overwrite its first
        # line (the URL line) with the participant links.
        self.runs = getattr(self, "runs", 0) + 1
        log_path = self.home / f"serve-online-{self.runs}.log"
        with log_path.open("a") as log:
            self.proc = subprocess.Popen(
                _cli(["serve-online", str(self.bundle), "--data-dir", str(self.data_dir), "--port", str(self.port)]),
                stdout=log, stderr=subprocess.STDOUT, text=True, cwd=REPO,
                env={**os.environ, "HOME": str(self.home), "PYTHONPATH": str(REPO)},
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text = log_path.read_text()
            m = re.search(r"at http://127\.0\.0\.1:(\d+)/", text)
            if m:
                self.port = int(m.group(1))
                return self.url
            if self.proc.poll() is not None:
                raise AssertionError(f"serve-online exited {self.proc.returncode}: {log_path.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"serve-online did not start within 120 s; its output: {log_path.read_text()!r}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture()
def serve(tmp_path: Path) -> Iterator[Callable[[Path, Path], ServerProcess]]:
    started: list[ServerProcess] = []

    def make(bundle: Path, data_dir: Path) -> ServerProcess:
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        s = ServerProcess(bundle, data_dir, home)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def _chromium(need_chromium: str) -> Iterator[object]:
    from psychophysics.online.cdp import Browser

    b = Browser()
    b.call("Network.enable", session=True)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture()
def browser(_chromium: Any, tmp_path: Path) -> Any:
    """One headless Chromium for all tests (each participant's data live under its own storage key);
    each test starts on a blank page with its own download folder and event log."""
    _chromium.goto("about:blank")
    _chromium.events.clear()
    _chromium.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(tmp_path / "downloads"),
                   eventsEnabled=True)
    return _chromium
