"""A headless Chromium driven over the Chrome DevTools Protocol (CDP), standard library only.

The browser is the system's Chromium (Debian's ``chromium``; nothing is downloaded at run time),
started with ``--remote-debugging-pipe``: CDP messages are JSON texts ending in a NUL byte, read
from the browser on file descriptor 4 and written to it on descriptor 3. Key presses and mouse
clicks are ``Input.dispatchKeyEvent`` / ``Input.dispatchMouseEvent``: the page receives them as
trusted events, exactly as from a keyboard.

Examples
--------
>>> find_chromium() is None or find_chromium().endswith(("chromium", "chromium-browser", "chrome"))
True
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from psychophysics.online.keys import cdp_key
from stimuli.errors import MRDError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """Path of a Chromium executable (``MRD_CHROMIUM`` first, then the usual names), or ``None``."""
    env = os.environ.get("MRD_CHROMIUM")
    if env:
        return env if Path(env).exists() else shutil.which(env)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class CDPError(MRDError):
    """The browser answered a CDP command with an error, or went away."""


class Browser:
    """One headless Chromium with one page.

    Parameters
    ----------
    width, height : int
        Window size in CSS pixels.
    download_dir : str or Path, optional
        Where downloads go (allowed without asking).
    timeout : float
        Seconds to wait for any one CDP answer.
    """

    def __init__(self, width: int = 1280, height: int = 1024, download_dir: str | Path | None = None,
                 timeout: float = 30.0) -> None:
        exe = find_chromium()
        if exe is None:
            raise MRDError(
                "no Chromium found (looked for MRD_CHROMIUM, " + ", ".join(CANDIDATES) + "); install Debian's "
                "`chromium` (scripts/setup_system.sh does when run as root)"
            )
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="mrd-chromium-")
        to_browser_r, self._w = os.pipe()
        self._r, from_browser_w = os.pipe()
        args = [
            exe, "--headless", "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}", "--no-first-run", "--no-default-browser-check",
            "--disable-gpu", "--disable-extensions", "--disable-background-networking",
            "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows", "--mute-audio", "about:blank",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox

        def child_fds() -> None:
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=child_fds, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        try:
            targets = self.call("Target.getTargets")["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
            self.call("Page.enable", session=True)
            self.call("Runtime.enable", session=True)
            if download_dir is not None:
                self.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(download_dir),
                          eventsEnabled=True)
        except BaseException:
            self.close()
            raise

    # -- protocol ---------------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise CDPError(f"Chromium did not answer within {self.timeout} s")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise CDPError(f"Chromium exited (status {self.proc.poll()})")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        """Send a CDP command and wait for its result (events that arrive meanwhile are kept)."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise CDPError(f"CDP {method}: {m['error'].get('message')}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    # -- page -------------------------------------------------------------------------------------
    def _wait_new_document(self, timeout: float = 30.0) -> None:
        """Wait until the old document (marked before navigating) is gone and the new one has a body."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.evaluate("window.__mrdOldDocument === undefined && !!document.body"):
                    return
            except CDPError:
                pass  # the context is being replaced
            time.sleep(0.02)
        raise CDPError(f"the page did not load within {timeout} s")

    def goto(self, url: str) -> None:
        """Load ``url`` and wait until the new document is there."""
        self.evaluate("window.__mrdOldDocument = true")
        self.call("Page.navigate", session=True, url=url)
        self._wait_new_document()

    def reload(self) -> None:
        """Reload the page (what a participant's F5 does) and wait until the new document is there."""
        self.evaluate("window.__mrdOldDocument = true")
        self.call("Page.reload", session=True, ignoreCache=False)
        self._wait_new_document()

    def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page and return its JSON value (exceptions become ``CDPError``)."""
        r = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise CDPError(f"page exception: {r['exceptionDetails'].get('exception', {}).get('description')}")
        return r.get("result", {}).get("value")

    def key(self, name: str) -> None:
        """Press and release a key (PsychoPy key name) as a trusted keyboard event."""
        p = cdp_key(name)
        self.call("Input.dispatchKeyEvent", session=True, type="keyDown", **p)
        up = {k: v for k, v in p.items() if k != "text"}
        self.call("Input.dispatchKeyEvent", session=True, type="keyUp", **up)

    def _centre(self, selector: str) -> tuple[float, float]:
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        if box is None:
            raise CDPError(f"no element {selector!r} on the page")
        return float(box[0]), float(box[1])

    def click(self, selector: str) -> None:
        """Click the centre of an element with the mouse."""
        x, y = self._centre(selector)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", session=True, type=kind, x=x, y=y, button="left", clickCount=1)

    def drag(self, selector: str, dx: float, dy: float, steps: int = 5) -> None:
        """Press the mouse on an element, move it by ``(dx, dy)`` in ``steps``, release."""
        x, y = self._centre(selector)
        self.call("Input.dispatchMouseEvent", session=True, type="mousePressed", x=x, y=y, button="left", clickCount=1)
        for i in range(1, steps + 1):
            self.call("Input.dispatchMouseEvent", session=True, type="mouseMoved", x=x + dx * i / steps,
                      y=y + dy * i / steps, button="left")
        self.call("Input.dispatchMouseEvent", session=True, type="mouseReleased", x=x + dx, y=y + dy, button="left",
                  clickCount=1)

    def console_errors(self) -> list[str]:
        """Uncaught exceptions and console errors seen so far."""
        out = []
        for m in self.events:
            if m.get("method") == "Runtime.exceptionThrown":
                out.append(str(m["params"]["exceptionDetails"].get("exception", {}).get("description")))
            elif m.get("method") == "Runtime.consoleAPICalled" and m["params"].get("type") == "error":
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in m["params"]["args"]))
        return out

    def close(self) -> None:
        """End the browser and remove its profile."""
        try:
            if self.proc.poll() is None:
                with contextlib.suppress(CDPError, OSError):
                    self.call("Browser.close")
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            for fd in (self._r, self._w):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self.log.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
