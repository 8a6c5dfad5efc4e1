"""50 concurrent askers against a live server with a small queue all get answers (honouring
Retry-After); feedback that was acknowledged survives SIGKILL of the server."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from live import free_port, live_server
from serve_fake_pipeline import FakePipeline
from serve_helpers import serve_settings

from ragloop.feedback.store import TraceStore
from ragloop.serve.app import create_app
from ragloop.serve.client import post_with_retry


def test_fifty_concurrent_asks_all_complete_with_a_small_queue(tmp_path):
    pipeline = FakePipeline(delay_s=0.05)
    app = create_app(pipeline, serve_settings(queue_size=8), data_dir=tmp_path)

    async def run(base: str):
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            return await asyncio.gather(*[
                post_with_retry(client, "/v1/ask", {"question": f"tides {i}?"}, deadline_s=90)
                for i in range(50)])

    with live_server(app) as base:
        outcomes = asyncio.run(run(base))
    assert [o.status for o in outcomes] == [200] * 50, [o.error for o in outcomes]
    assert sum(o.retries for o in outcomes) > 0  # the queue did fill and clients came back
    assert pipeline.calls == 50  # one model entry per request, never two at once
    assert TraceStore.for_data_dir(tmp_path).count_traces() == 50


def _wait_healthy(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "server process exited"
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not become healthy")


def test_feedback_survives_sigkill(tmp_path):
    port = free_port()
    script = Path(__file__).parent / "fake_server_main.py"
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path), str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, process)
        trace_id = httpx.post(base + "/v1/ask", json={"question": "tides?"},
                              timeout=30).json()["trace_id"]
        response = httpx.post(base + "/v1/feedback", timeout=30, json={
            "trace_id": trace_id, "rating": "down", "corrected_answer": "The Moon [1]."})
        assert response.status_code == 201
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    store = TraceStore.for_data_dir(tmp_path)
    assert sqlite3.connect(store.path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    feedback = store.feedback_for(trace_id)
    assert [(f.rating, f.corrected_answer) for f in feedback] == [("down", "The Moon [1].")]
    store.close()
