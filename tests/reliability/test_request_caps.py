"""Probe 5 of issue 11 (server side): one request must not stall the model. Every API route
has a content-size cap; the 6.9 MB chat question is refused before it reaches the model
thread, and a question over the character limit is a 4xx there too. Real server (uvicorn)."""

from __future__ import annotations

import time

import httpx
import pytest
from live import live_server
from serve_fake_pipeline import FakePipeline
from serve_helpers import serve_settings

from ragloop.serve.app import create_app

MAX_QUESTION_CHARS = 2000  # [serve] max_question_chars by default


@pytest.fixture
def served(tmp_path):
    pipeline = FakePipeline()
    app = create_app(pipeline, serve_settings(), data_dir=tmp_path)
    with live_server(app) as base:
        yield base, pipeline


def _chat(text: str) -> dict:
    return {"model": "ragloop", "messages": [{"role": "user", "content": text}]}


def test_a_huge_chat_question_never_reaches_the_model(served):
    base, pipeline = served
    started = time.perf_counter()
    huge = httpx.post(base + "/v1/chat/completions", json=_chat("why " * 1_725_000),
                      timeout=60)  # 6.9 MB, as in the issue
    assert huge.status_code == 413, huge.text
    assert "max_json_kb" in huge.json()["error"]["message"]
    long = httpx.post(base + "/v1/chat/completions",
                      json=_chat("x" * (MAX_QUESTION_CHARS + 1)))
    assert long.status_code == 422
    assert "max_question_chars" in long.json()["error"]["message"]
    parts = httpx.post(base + "/v1/chat/completions", json={"messages": [{
        "role": "user", "content": [{"type": "text", "text": "y" * (MAX_QUESTION_CHARS + 1)}]}]})
    assert parts.status_code == 422
    assert pipeline.calls == 0  # nothing ran on the model thread
    long_ask = httpx.post(base + "/v1/ask", json={"question": "x" * (MAX_QUESTION_CHARS + 1),
                                                  "stream": True})
    assert long_ask.status_code == 422
    assert pipeline.calls == 0  # nothing ran on the model thread
    asked = httpx.post(base + "/v1/ask", json={"question": "x" * MAX_QUESTION_CHARS})
    assert asked.status_code == 200
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/feedback", "/v1/chat/completions"])
def test_every_json_route_caps_its_body(served, path):
    base, _ = served
    body = b'{"question": "' + b"z" * (600 * 1024) + b'"}'
    response = httpx.post(base + path, content=body,
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text


def test_uploads_keep_their_larger_cap(tmp_path):
    app = create_app(FakePipeline(), serve_settings(max_json_kb=1, max_body_mb=0.05),
                     data_dir=tmp_path)
    with live_server(app) as base:
        small_json = httpx.post(base + "/v1/ask", json={"question": "q" * 2000})
        assert small_json.status_code == 413
        too_big = httpx.post(base + "/v1/documents",
                             files=[("files", ("big.txt", b"a" * 60_000))])
        assert too_big.status_code == 413
        assert "max_body_mb" in too_big.json()["error"]["message"]
