"""``mrd serve-online`` over real HTTP: the rules, restarts, and fuzzed requests."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psychophysics.online.bundle import plan_path, read_data_file, read_manifest
from psychophysics.online.server import MAX_BODY, CollectionServer
from stimuli.errors import MRDError


class Client:
    def __init__(self, server: CollectionServer) -> None:
        self.host, self.port = server.server_address[:2]

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any] | bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        if resp.getheader("Content-Type", "").startswith("application/json"):
            return resp.status, json.loads(raw)
        return resp.status, raw

    def post(self, kind: str, body: Any) -> tuple[int, Any]:
        return self.request("POST", f"/api/{kind}", json.dumps(body).encode(), {"Content-Type": "application/json"})


@pytest.fixture()
def running(bundle: Path, tmp_path: Path) -> Iterator[tuple[CollectionServer, Client, Path]]:
    data = tmp_path / "data"
    server = CollectionServer(bundle, data, port=0)
    server.start_background()
    try:
        yield server, Client(server), data
    finally:
        server.shutdown()
        server.server_close()


def plan_of(bundle: Path, pid: str) -> dict[str, Any]:
    return read_data_file(plan_path(bundle, pid, 1))


def open_body(bundle: Path, pid: str = "P01", run_id: str = "run-1") -> dict[str, Any]:
    return {"participant": pid, "session": 1, "run_id": run_id,
            "stimulus_digest": read_manifest(bundle)["stimulus_digest"], "user_agent": "test"}


def trial_body(bundle: Path, n: int, pid: str = "P01", wrong: bool = False) -> dict[str, Any]:
    plan = plan_of(bundle, pid)
    t = {k: v for k, v in plan["trials"][n - 1].items() if k != "images"}
    pos = t["odd_position"] if not wrong else t["odd_position"] % 3 + 1
    key = plan["keys"][f"position_{pos}"][0]
    return {**t, "participant": pid, "session": 1, "response_key": key, "response_position": pos,
            "correct": int(not wrong), "rt": 0.5, "frame_interval_mean_ms": 16.7, "frame_interval_sd_ms": 0.2,
            "dropped_frames": 0, "timestamp": "2026-01-01T12:00:00.000Z", "stimulus_frames": 2,
            "stimulus_frames_measured": 2, "stimulus_ms_measured": 33.3,
            "stimulus_digest": read_manifest(bundle)["stimulus_digest"], "run_id": "run-1", "mrd": "trial"}


def csv_lines(data: Path, pid: str = "P01") -> list[str]:
    return (data / f"sub-{pid}_ses-1_trials.csv").read_text().splitlines()


def test_trials_follow_the_plan_once_and_a_restart_resumes(running: Any, bundle: Path, tmp_path: Path) -> None:
    server, client, data = running
    status, answer = client.post("open", open_body(bundle))
    assert status == 200 and answer["n_done"] == 0 and answer["next_trial"] == 1
    assert client.post("trial", trial_body(bundle, 1))[0] == 200
    before = csv_lines(data)
    # a retry (a lost answer) is acknowledged again and changes nothing, even with another answer
    status, answer = client.post("trial", trial_body(bundle, 1, wrong=True))
    assert status == 200 and answer["duplicate"] is True and csv_lines(data) == before
    # out of order, foreign stimuli, a planned field that differs, an answer that does not add up: refused
    assert client.post("trial", trial_body(bundle, 3))[0] == 409
    assert client.post("trial", {**trial_body(bundle, 2), "stimulus_digest": "0" * 64})[0] == 409
    assert client.post("trial", {**trial_body(bundle, 2), "metamer_id": "scene0-m0x"})[0] == 409
    assert client.post("trial", {**trial_body(bundle, 2), "response_key": "9"})[0] == 400
    body = trial_body(bundle, 2)
    assert client.post("trial", {**body, "response_position": body["response_position"] % 3 + 1})[0] == 400
    assert client.post("trial", {**body, "correct": 0})[0] == 400
    assert client.post("trial", {**body, "surprise": 1})[0] == 400
    assert csv_lines(data) == before
    # the CSV row: planned columns from the plan, correct recomputed
    from stimuli.sessions import TRIAL_COLUMNS

    assert before[0] == ",".join(TRIAL_COLUMNS)
    # a new server process on the same data continues where the files end
    server.shutdown()
    server.server_close()
    again = CollectionServer(bundle, data, port=0)
    again.start_background()
    try:
        c2 = Client(again)
        status, answer = c2.post("open", open_body(bundle, run_id="run-2"))
        assert status == 200 and answer["n_done"] == 1 and answer["next_trial"] == 2
        assert c2.post("trial", trial_body(bundle, 2))[0] == 200
        side = json.loads((data / "sub-P01_ses-1_session.json").read_text())
        assert [r["run_id"] for r in side["runs"]] == ["run-1", "run-2"]
        assert side["stimulus_digest"] == read_manifest(bundle)["stimulus_digest"]
    finally:
        again.shutdown()
        again.server_close()
    assert len(csv_lines(data)) == 3


def test_existing_session_with_another_plan_is_never_overwritten(bundle: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    files = {}
    for kind, text in (("plan", '{"trials": [], "stimulus_digest": "x"}\n'), ("session", "{}\n"), ("trials", "a,b\n")):
        ext = "csv" if kind == "trials" else "json"
        files[kind] = data / f"sub-P01_ses-1_{kind}.{ext}"
        files[kind].write_text(text)
    server = CollectionServer(bundle, data, port=0)
    server.start_background()
    try:
        status, answer = Client(server).post("open", open_body(bundle))
    finally:
        server.shutdown()
        server.server_close()
    assert status == 409 and "another plan" in answer["error"]
    assert [p.read_text() for p in files.values()] == ['{"trials": [], "stimulus_digest": "x"}\n', "{}\n", "a,b\n"]


def test_data_folder_inside_the_bundle_is_refused(bundle: Path) -> None:
    with pytest.raises(MRDError, match="must not lie inside the bundle"):
        CollectionServer(bundle, bundle / "collected", port=0)


def tree(root: Path, skip: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and skip not in p.parents}


BAD_IDS = ["../x", "a/b", "..", "a\\b", "", "x" * 33, "P01\x00", "P01/../../etc", "é", "P01 ", 5, None, True,
           ["P01"], {"id": "P01"}, "%2e%2e", "P01\n"]
BAD_SESSIONS = [0, -1, "1", 1.5, True, None, 10**9, [1]]
RAW_GETS = ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/data/%2e%2e/%2e%2e/x", "/..%2f..%2fetc%2fpasswd",
            "/.git/config", "/mrd/../../x", "/%00", "/images/..%5c..%5cx", "/nonexistent.js", "//etc/passwd"]


def raw(client: Client, data: bytes) -> int:
    with socket.create_connection((client.host, client.port), timeout=10) as s:
        s.sendall(data)
        reply = s.recv(4096).decode("latin-1")
    return int(reply.split()[1])


def test_fuzzed_requests_get_4xx_and_write_nothing_outside_the_data_folder(
    running: Any, bundle: Path, tmp_path: Path
) -> None:
    server, client, data = running
    outside = tree(tmp_path, data)
    statuses = []
    for pid in BAD_IDS:
        statuses.append(client.post("open", {**open_body(bundle), "participant": pid})[0])
        statuses.append(client.post("trial", {**trial_body(bundle, 1), "participant": pid})[0])
    for ses in BAD_SESSIONS:
        statuses.append(client.post("open", {**open_body(bundle), "session": ses})[0])
    for body in ([], "x", 1, None, [open_body(bundle)]):
        statuses.append(client.post("open", body)[0])
    statuses.append(client.post("open", {**open_body(bundle), "participant": "P99"})[0])  # no plan for this id
    statuses.append(client.post("open", {**open_body(bundle), "run_id": "../../x"})[0])
    statuses.append(client.post("trial", trial_body(bundle, 1))[0])  # the session was never opened
    statuses.append(client.post("delete", open_body(bundle))[0])
    hdr = {"Content-Type": "application/json"}
    statuses.append(client.request("POST", "/api/open", b"{" * (MAX_BODY + 1), hdr)[0])
    statuses.append(client.request("POST", "/api/open", b"\xff\xfe{", hdr)[0])
    statuses.append(client.request("POST", "/api/open", b'{"session": NaN}', hdr)[0])
    statuses.append(client.request("POST", "/api/open", json.dumps(open_body(bundle)).encode(),
                                   {"Content-Type": "text/plain"})[0])
    # a huge announced body is refused before it is read; no length at all is refused too
    statuses.append(raw(client, b"POST /api/trial HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                b"Content-Length: 1000000000\r\n\r\n{"))
    statuses.append(raw(client, b"POST /api/trial HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n{}"))
    for path in RAW_GETS:
        statuses.append(raw(client, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()))
    for method in ("PUT", "DELETE", "PATCH"):
        statuses.append(client.request(method, "/index.html", b"x")[0])
    assert all(400 <= s < 500 for s in statuses), statuses
    assert tree(tmp_path, data) == outside
    assert not data.exists() or not any(data.iterdir())

    # mutate one field of valid messages at random: never a 5xx, never a file outside, never a bad row
    assert client.post("open", open_body(bundle))[0] == 200
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False) | st.text(max_size=40),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6)
    fields = sorted(trial_body(bundle, 1))
    counts = {"cases": 0, "200": 0, "4xx": 0}

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(field=st.sampled_from(fields), value=json_values, kind=st.sampled_from(["trial", "open", "run", "end"]))
    def fuzz(field: str, value: Any, kind: str) -> None:
        body = trial_body(bundle, 1) if kind == "trial" else {**open_body(bundle), "reason": "x"}
        body[field] = value
        status, _ = client.post(kind, body)
        assert status == 200 or 400 <= status < 500, (field, value, status)
        counts["cases"] += 1
        counts["200" if status == 200 else "4xx"] += 1

    fuzz()
    print(f"\nserver field fuzz: {counts} (+ {len(statuses)} fixed bad requests, all 4xx)")
    assert counts["cases"] == 150 and counts["200"] + counts["4xx"] == 150
    assert tree(tmp_path, data) == outside
    assert sorted(p.name for p in data.iterdir()) == [
        "sub-P01_ses-1_plan.json", "sub-P01_ses-1_session.json", "sub-P01_ses-1_trials.csv"]
    import csv

    from stimuli.sessions import TRIAL_COLUMNS

    with open(data / "sub-P01_ses-1_trials.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0].keys()) == TRIAL_COLUMNS if rows else True
    assert [r["trial"] for r in rows] in ([], ["1"])


def test_static_files_are_served_and_the_cli_reports_errors(running: Any, bundle: Path, tmp_path: Path) -> None:
    _, client, _ = running
    status, body = client.request("GET", "/")
    assert status == 200 and b"vendor/jspsych.js" in body
    status, body = client.request("GET", "/data/manifest.js")
    assert status == 200 and body.startswith(b'mrdData("manifest"')
    from mrd.cli import main

    assert main(["serve-online", str(tmp_path / "nothing"), "--data-dir", str(tmp_path / "d")]) == 2
