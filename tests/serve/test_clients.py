"""Existing clients: the official `openai` package talks to the server as to a model, and
`ragloop serve` starts from the command line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from live import free_port, live_server
from serve_fake_pipeline import FakePipeline
from serve_helpers import serve_settings

from ragloop.serve.app import create_app

KEY = "client-key"


def test_openai_python_client_non_streaming_and_streaming(tmp_path, monkeypatch):
    openai = pytest.importorskip("openai", reason="the openai client package")
    monkeypatch.setenv("RAGLOOP_CLIENT_KEY", KEY)
    app = create_app(FakePipeline(), serve_settings(api_key_env="RAGLOOP_CLIENT_KEY"),
                     data_dir=tmp_path)
    with live_server(app) as base:
        client = openai.OpenAI(base_url=base + "/v1", api_key=KEY, max_retries=0)
        assert [m.id for m in client.models.list()] == ["ragloop"]
        reply = client.chat.completions.create(
            model="ragloop", messages=[{"role": "user", "content": "Why tides?"}])
        assert "Moon" in reply.choices[0].message.content
        assert reply.usage.completion_tokens == 18
        pieces = [chunk.choices[0].delta.content or "" for chunk in
                  client.chat.completions.create(
                      model="ragloop", stream=True,
                      messages=[{"role": "user", "content": "Why tides?"}])]
        assert len(pieces) > 3 and "Moon" in "".join(pieces)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0
                          ).chat.completions.create(
                model="ragloop", messages=[{"role": "user", "content": "x"}])


def test_ragloop_serve_command_starts_and_answers_health(project):
    port = free_port()
    ragloop = Path(sys.executable).with_name("ragloop")
    process = subprocess.Popen([str(ragloop), "-p", str(project.root), "serve", "--port",
                                str(port), "--log-level", "warning"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "ragloop serve exited"
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "ragloop serve did not come up"
                time.sleep(0.2)
        assert health.json()["queue_size"] == project.settings.serve.queue_size
        assert httpx.get(f"http://127.0.0.1:{port}/v1/traces").json() == {"traces": []}
    finally:
        process.terminate()
        process.wait(timeout=20)
