"""Probe 7 of issue 11 (server side): bad input is a 4xx naming what is wrong, never a 500.
Replayed against the real server (uvicorn); the answers come from the fake pipeline."""

from __future__ import annotations

import httpx
import pytest
from live import live_server
from serve_fake_pipeline import FakePipeline
from serve_helpers import serve_settings

from ragloop.serve.app import create_app


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    app = create_app(FakePipeline(), serve_settings(),
                     data_dir=tmp_path_factory.mktemp("errors"))
    with live_server(app) as url:
        yield url


@pytest.mark.parametrize("method, path, body, words", [
    ("GET", "/v1/traces?offset=99999999999999999999", None, "offset"),
    ("GET", "/v1/traces?limit=99999999999999999999", None, "limit"),
    ("POST", "/v1/chat/completions",
     {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "text"),
    ("POST", "/v1/chat/completions",
     {"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "text"),
    ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": 5}]},
     "content"),
    ("POST", "/v1/ask", {"question": "tides?", "strategy": "bogus"}, "unknown strategy"),
    ("POST", "/v1/ask", {"question": "tides?", "strategy": "bogus", "stream": True},
     "unknown strategy"),
])
def test_bad_input_is_a_4xx(base, method, path, body, words):
    response = httpx.request(method, base + path, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert words in response.json()["error"]["message"]


def test_the_good_forms_still_answer(base):
    parts = httpx.post(base + "/v1/chat/completions", json={"messages": [{
        "role": "user", "content": [{"type": "text", "text": "tides?"},
                                    {"type": "image_url", "image_url": {"url": "x"}}]}]})
    assert parts.status_code == 200, parts.text
    asked = httpx.post(base + "/v1/ask", json={"question": "tides?", "strategy": "cot"})
    assert asked.status_code == 200 and asked.json()["strategy"] == "cot"
    assert httpx.get(base + "/v1/traces?offset=5").json() == {"traces": []}
