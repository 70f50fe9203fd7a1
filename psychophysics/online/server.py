"""``mrd serve-online``: a small collection server for pilots and lab networks (standard library only).

It serves a bundle's files (GET/HEAD, only regular files inside the bundle) and takes the
browser's messages as JSON POSTs to ``/api/open``, ``/api/run``, ``/api/trial`` and ``/api/end``
(:class:`psychophysics.online.store.SessionStore` writes them into the data folder). Bad requests
get a clear 4xx with a JSON ``{"error": ...}``: 400 malformed or invalid, 404 unknown path or
participant, 405 other methods, 409 out of order or foreign stimuli, 411 no length, 413 a body over
:data:`MAX_BODY` bytes (not read), 415 not JSON; a body that is not UTF-8 JSON, holds non-finite numbers or nests deeper than
:data:`MAX_DEPTH` is a 400 (:func:`parse_body`); a connection stalled for :attr:`Handler.timeout` seconds
is closed. An unexpected failure is a 500 with one log line, never a traceback. A 2xx answer to a trial is sent only after its row
is fsync'd, so a crash (even SIGKILL) never loses an acknowledged trial.

Examples
--------
>>> safe_relative("/mrd/task.js"), safe_relative("/"), safe_relative("/../etc/passwd")
('mrd/task.js', 'index.html', None)
"""

from __future__ import annotations

import json
import math
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from psychophysics.online.bundle import read_manifest
from psychophysics.online.records import BadRequest
from psychophysics.online.store import SessionStore
from stimuli.errors import MRDError

MAX_BODY = 64 * 1024
"""Largest request body accepted (bytes); a trial message is about 1 KB."""

TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".png": "image/png", ".json": "application/json",
         ".map": "application/json"}
MESSAGES = ("open", "run", "trial", "end")


def safe_relative(url_path: str) -> str | None:
    """The bundle-relative file a URL path names, or ``None`` if it could leave the bundle."""
    path = unquote(urlsplit(url_path).path)
    if "\x00" in path or "\\" in path:
        return None
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") or p.startswith(".") for p in parts):
        return None
    return "/".join(parts) or "index.html"


class Handler(BaseHTTPRequestHandler):
    """Requests of one connection (see the module docstring)."""

    server: CollectionServer
    protocol_version = "HTTP/1.1"
    server_version = "mrd-serve-online"
    timeout = 30  # seconds a connection may stall (a body shorter than its Content-Length) before it is closed

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _send(self, status: int, body: bytes, ctype: str, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, data: dict[str, Any]) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self.close_connection = True
        self._json(status, {"error": message, "status": status})

    def _static(self, head: bool) -> None:
        rel = safe_relative(self.path)
        root = self.server.bundle_root
        if rel is None:
            self._error(HTTPStatus.BAD_REQUEST, f"path {self.path[:80]!r} is not allowed")
            return
        target = (root / rel).resolve()
        if root not in target.parents or not target.is_file():
            self._error(HTTPStatus.NOT_FOUND, f"no file {rel[:80]!r} in this study")
            return
        self._send(HTTPStatus.OK, target.read_bytes(), TYPES.get(target.suffix, "application/octet-stream"), head)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        """Serve a bundle file."""
        self._static(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        """Headers of a bundle file."""
        self._static(head=True)

    def _refuse(self) -> None:
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"method {self.command} is not allowed")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse  # noqa: N815

    def do_POST(self) -> None:  # noqa: N802
        """Take one message of the browser."""
        path = urlsplit(self.path).path
        kind = path[len("/api/"):] if path.startswith("/api/") else None
        if kind not in MESSAGES:
            self._error(HTTPStatus.NOT_FOUND, f"no endpoint {path[:80]!r}; POST to /api/{{{','.join(MESSAGES)}}}")
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._error(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header (bytes) is required")
            return
        if int(length) > MAX_BODY:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body of {length} bytes; at most {MAX_BODY}")
            return
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Type {ctype!r}; send application/json")
            return
        raw = self.rfile.read(int(length))
        try:
            answer = self.server.store.handle(kind, parse_body(raw))
        except BadRequest as exc:
            self._error(exc.status, str(exc))
            return
        except MRDError as exc:  # e.g. a damaged session file: refuse, do not touch it
            self._error(HTTPStatus.CONFLICT, str(exc))
            return
        except Exception as exc:  # a bug: one clear line in the log and the answer, never a traceback
            sys.stderr.write(f"mrd serve-online: error handling {path}: {type(exc).__name__}: {str(exc)[:200]}\n")
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"the server failed on this message ({type(exc).__name__})")
            return
        self._json(HTTPStatus.OK, answer)


MAX_DEPTH = 16
"""Deepest nesting of arrays and objects accepted in a message (a run report nests 3 levels)."""


def parse_body(raw: bytes) -> Any:
    """A request body as JSON: UTF-8, finite numbers only, nested at most :data:`MAX_DEPTH` levels.

    Parameters
    ----------
    raw : bytes
        The body as received.

    Returns
    -------
    object
        The parsed JSON value.

    Raises
    ------
    BadRequest
        (400) naming what is wrong: not UTF-8, not JSON, ``NaN``/``Infinity`` or a number too large for
        a float (``1e999``), an integer of over 30 digits, or nesting deeper than :data:`MAX_DEPTH`.

    Examples
    --------
    >>> parse_body(b'{"rt": 0.5}')
    {'rt': 0.5}
    >>> parse_body(b'{"rt": 1e999}')
    Traceback (most recent call last):
    ...
    psychophysics.online.records.BadRequest: the body is not JSON (1e999 is not a finite number)
    >>> parse_body(b"[" * 100000)
    Traceback (most recent call last):
    ...
    psychophysics.online.records.BadRequest: the body is not JSON (nested too deeply; at most 16 levels)
    """
    try:
        text = raw.decode("utf-8")
        if _depth_over(text, MAX_DEPTH):
            raise ValueError(f"nested too deeply; at most {MAX_DEPTH} levels")
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite, parse_int=_bounded_int)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest(f"the body is not JSON ({str(exc)[:100]})") from None


def _depth_over(text: str, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than ``limit`` (checked before parsing)."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:30]} is not a finite number")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 30:
        raise ValueError(f"an integer of {len(text)} digits; at most 30")
    return int(text)


class CollectionServer(ThreadingHTTPServer):
    """A collection server for one bundle and one data folder.

    Parameters
    ----------
    bundle : str or Path
        The folder written by ``mrd export-online``.
    data_dir : str or Path
        Where the session files go (created if missing).
    host, port : str, int
        Where to listen (port 0: any free port; see :attr:`url`).
    verbose : bool
        Log every request to stderr.

    Examples
    --------
    >>> CollectionServer("/nonexistent", "data")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: /nonexistent/data/manifest.js: missing; is this a bundle written by `mrd export-online`?
    """

    daemon_threads = True

    def __init__(self, bundle: str | Path, data_dir: str | Path, host: str = "127.0.0.1", port: int = 8000,
                 verbose: bool = False) -> None:
        self.bundle_root = Path(bundle).resolve()
        self.manifest = read_manifest(self.bundle_root)
        data = Path(data_dir).resolve()
        if data == self.bundle_root or self.bundle_root in data.parents:
            raise MRDError(f"--data-dir {data_dir}: must not lie inside the bundle {bundle} (it is served to anyone)")
        data.mkdir(parents=True, exist_ok=True)
        self.store = SessionStore(data, self.manifest, self.bundle_root)
        self.verbose = verbose
        super().__init__((host, port), Handler)

    @property
    def url(self) -> str:
        """The base URL (``http://host:port/``)."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def participant_urls(self) -> list[str]:
        """One link per planned participant and session."""
        return [f"{self.url}index.html?participant={p}&session={s}"
                for p, sessions in self.manifest["participants"].items() for s in sessions]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-request (reset, broken pipe) is not a server fault: one line when
        ``verbose``, else nothing; anything else keeps the standard traceback."""
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            if self.verbose:
                print(f"{client_address[0]}: connection closed by the client", file=sys.stderr)
            return
        super().handle_error(request, client_address)

    def start_background(self) -> threading.Thread:
        """Serve in a daemon thread (for tests and notebooks); stop with ``shutdown()``."""
        t = threading.Thread(target=self.serve_forever, daemon=True)
        t.start()
        return t
