"""Probe item 12 of issue 27, the server's part: ``%00`` in a ``/runs`` path was a 500 with a
traceback; a full disk gave plain-text 500s; half-open connections were held forever; the
feedback of a trace and the traces themselves grew without bound."""

from __future__ import annotations

import http.client
import socket
import sqlite3
import threading
import time
from datetime import timedelta

import pytest
import uvicorn
from fastapi.testclient import TestClient
from feedback_helpers import T0, make_answer
from live import free_port
from serve_fake_pipeline import FakePipeline
from serve_helpers import LOCAL, serve_settings

from ragloop.feedback.store import FeedbackLimitError, TraceStore
from ragloop.feedback.tracing import build_trace
from ragloop.records import Feedback
from ragloop.serve.app import create_app
from ragloop.serve.server import uvicorn_config


@pytest.fixture
def client(tmp_path):
    app = create_app(FakePipeline(), serve_settings(), data_dir=tmp_path)
    (app.state.ragloop.runs_dir / "run-1").mkdir(parents=True)
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/runs/run-1/a%00b", "/runs/run%00/x", "/runs/run-1/%00",
                                  "/runs/run-1/" + "a" * 5000])
def test_odd_run_paths_are_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "http_404"


def test_a_full_disk_is_a_json_507_naming_the_cause(client, monkeypatch):
    def full(*_args, **_kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(client.app.state.ragloop.store, "add_trace", full)  # fault injected
    response = client.post("/v1/ask", json={"question": "What causes tides?"})
    assert response.status_code == 507
    error = response.json()["error"]
    assert error["code"] == "disk_full" and "free some space" in error["message"]


@pytest.fixture
def served(tmp_path):
    app = create_app(FakePipeline(), serve_settings(port=free_port(), header_timeout_s=0.5),
                     data_dir=tmp_path)
    server = uvicorn.Server(uvicorn_config(app, app.state.ragloop.settings.serve,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield app.state.ragloop.settings.serve.port
    server.should_exit = True
    thread.join(timeout=10)


def closed_after(sock: socket.socket) -> float:
    start = time.monotonic()
    sock.settimeout(5)
    while sock.recv(1024):
        pass
    return time.monotonic() - start


@pytest.mark.parametrize("sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"])
def test_a_connection_without_complete_headers_is_closed(served, sent):
    with socket.create_connection(("127.0.0.1", served)) as sock:
        sock.sendall(sent)
        assert closed_after(sock) < 3  # header_timeout_s = 0.5; before: never


def test_a_keep_alive_connection_still_answers_several_requests(served):
    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=5)
    try:
        sockets = []
        for _ in range(2):
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            assert response.status == 200 and response.read()
            sockets.append(conn.sock)
            time.sleep(0.3)  # idle less than the deadline between requests
        assert sockets[0] is sockets[1]  # one connection, kept open between the two
    finally:
        conn.close()


def test_traces_and_feedback_per_trace_are_bounded(tmp_path):
    store = TraceStore(tmp_path / "traces.sqlite", max_traces=3, max_feedback_per_trace=2)
    ids = []
    for i in range(6):
        trace = build_trace(make_answer(f"q{i}", "a [1]"), started=T0 + timedelta(seconds=i),
                            wall_s=1.0)
        store.add_trace(trace)
        ids.append(trace.id)
        if i == 0:  # the oldest trace has feedback: training data, kept
            for n in range(2):
                store.add_feedback(Feedback(id=f"f{n}", trace_id=trace.id, created=T0,
                                            rating="up"))
            with pytest.raises(FeedbackLimitError):
                store.add_feedback(Feedback(id="f2", trace_id=trace.id, created=T0,
                                            rating="down"))
    assert store.count_traces() == 3
    assert [i for i in ids if store.has_trace(i)] == [ids[0], ids[4], ids[5]]
