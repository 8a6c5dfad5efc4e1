"""API key on every route but /healthz; clear 4xx for bad input; 503 when the queue is full."""

from __future__ import annotations

import asyncio
import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from serve_fake_pipeline import FakePipeline
from serve_helpers import LOCAL, serve_settings
from starlette.routing import Mount, Route

from ragloop.errors import ConfigError
from ragloop.serve.app import create_app
from ragloop.serve.gate import ModelGate, QueueFullError

KEY = "s3cret-key"


@pytest.fixture
def keyed_client(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGLOOP_TEST_KEY", KEY)
    # a wrong key is tried on every route: more than the default limit of failures allows
    app = create_app(FakePipeline(), serve_settings(api_key_env="RAGLOOP_TEST_KEY",
                                                    login_failures_per_minute=1000),
                     data_dir=tmp_path / "data")
    with TestClient(app, base_url=LOCAL) as test_client:
        yield test_client


def _flat_routes(routes):
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI's wrapper of an included router
            yield from _flat_routes(route.original_router.routes)
        else:
            yield route


def _requests(app):
    """One (method, concrete path) per route and method of the app."""
    for route in _flat_routes(app.routes):
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        if isinstance(route, Mount):
            yield "GET", path + "/app.js"
        elif isinstance(route, APIRoute | Route):
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    yield method, path


def test_every_route_but_healthz_needs_the_key(keyed_client):
    requests = list(_requests(keyed_client.app))
    schema = keyed_client.app.openapi()  # every published path is among the routes tried
    tried = {path for _, path in requests}
    assert {re.sub(r"\{[^}]+\}", "x", p) for p in schema["paths"]} <= tried
    assert len(requests) >= 12
    for method, path in requests:
        response = keyed_client.request(method, path, json={})
        if path == "/healthz":
            assert response.status_code == 200
            continue
        assert response.status_code == 401, (method, path, response.status_code)
        wrong = keyed_client.request(method, path, json={},
                                     headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401, (method, path)


def test_the_key_opens_the_api_and_the_page(keyed_client):
    headers = {"Authorization": f"Bearer {KEY}"}
    assert keyed_client.post("/v1/ask", json={"question": "tides?"},
                             headers=headers).status_code == 200
    assert keyed_client.get("/v1/traces", headers={"X-API-Key": KEY}).status_code == 200
    page = keyed_client.get("/")
    assert page.status_code == 401 and "api_key" in page.text  # a form to enter the key
    assert keyed_client.get(f"/?api_key={KEY}").status_code == 401  # never in a URL
    opened = keyed_client.post("/login", data={"api_key": KEY}, follow_redirects=False)
    assert opened.status_code == 303 and "ragloop_session" in opened.headers["set-cookie"]
    assert keyed_client.get("/static/app.js").status_code == 200  # the session cookie
    # the cookie authorises the page's own writes; another origin's are refused
    assert keyed_client.post("/v1/ask", json={"question": "tides?"},
                             headers={"Origin": LOCAL}).status_code == 200
    assert keyed_client.post("/v1/ask", json={"question": "tides?"},
                             headers={"Origin": "http://evil.example"}).status_code == 403
    keyed_client.cookies.clear()
    assert keyed_client.post("/v1/ask", json={"question": "tides?"}).status_code == 401


def test_session_cookie_is_secure_over_https(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGLOOP_TEST_KEY", KEY)
    app = create_app(FakePipeline(), serve_settings(api_key_env="RAGLOOP_TEST_KEY"),
                     data_dir=tmp_path)
    with TestClient(app, base_url="https://127.0.0.1") as client:
        opened = client.post("/login", data={"api_key": KEY}, follow_redirects=False)
    assert opened.status_code == 303 and "; Secure" in opened.headers["set-cookie"]


def test_key_env_named_but_empty_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.delenv("RAGLOOP_UNSET_KEY", raising=False)
    with pytest.raises(ConfigError, match="RAGLOOP_UNSET_KEY"):
        create_app(FakePipeline(), serve_settings(api_key_env="RAGLOOP_UNSET_KEY"),
                   data_dir=tmp_path)


@pytest.mark.parametrize("body, status, words", [
    (b'{"question": ', 400, "not valid JSON"),
    (b'{"question": ""}', 422, "question"),
    (b'{"question": "x", "mode": "turbo"}', 422, "mode"),
    (b'{"question": "x", "colour": 1}', 422, "unknown field 'colour'"),
    (b'{}', 422, "missing required field 'question'"),
])
def test_bad_ask_bodies_get_clear_4xx(client, body, status, words):
    response = client.post("/v1/ask", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert words in response.json()["error"]["message"]


@pytest.mark.parametrize("payload, status, words", [
    ({"trace_id": "no-such-trace", "rating": "up"}, 404, "no trace with id 'no-such-trace'"),
    ({"trace_id": "t", "rating": "sideways"}, 422, "rating"),
    ({"trace_id": "t"}, 422, "needs a rating"),
    ({"rating": "up"}, 422, "missing required field 'trace_id'"),
    ({"trace_id": "t", "rating": "up", "stars": 5}, 422, "unknown field 'stars'"),
])
def test_bad_feedback_gets_clear_4xx(client, payload, status, words):
    response = client.post("/v1/feedback", json=payload)
    assert response.status_code == status
    assert words in response.json()["error"]["message"]


def test_unknown_trace_is_404(client):
    response = client.get("/v1/traces/does-not-exist")
    assert response.status_code == 404
    assert "does-not-exist" in response.json()["error"]["message"]


def test_oversize_bodies_get_413(tmp_path):
    app = create_app(FakePipeline(), serve_settings(max_json_kb=10), data_dir=tmp_path)
    big = b'{"question": "' + b"x" * 20_000 + b'"}'
    with TestClient(app, base_url=LOCAL) as client:
        declared = client.post("/v1/ask", content=big,
                               headers={"Content-Type": "application/json"})
        assert declared.status_code == 413
        assert "max_json_kb" in declared.json()["error"]["message"]

        def chunks():  # no Content-Length: counted while reading
            for i in range(0, len(big), 4096):
                yield big[i:i + 4096]

        streamed = client.post("/v1/ask", content=chunks(),
                               headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413
        assert client.post("/v1/ask", json={"question": "small"}).status_code == 200


def test_full_queue_is_503_with_retry_after(tmp_path):
    app = create_app(FakePipeline(), serve_settings(queue_size=1), data_dir=tmp_path)
    gate = app.state.ragloop.gate
    with TestClient(app, base_url=LOCAL) as client:
        gate.admit()  # someone holds the only place
        try:
            response = client.post("/v1/ask", json={"question": "tides?"})
            assert response.status_code == 503
            assert int(response.headers["Retry-After"]) >= 1
            assert "queue is full" in response.json()["error"]["message"]
            streamed = client.post("/v1/ask", json={"question": "tides?", "stream": True})
            assert streamed.status_code == 503
        finally:
            gate.release()
        assert client.post("/v1/ask", json={"question": "tides?"}).status_code == 200


def test_gate_runs_one_job_at_a_time_and_bounds_the_queue():
    async def scenario():
        gate = ModelGate(capacity=3)
        running, peak = 0, 0

        def job():
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            import time
            time.sleep(0.02)
            running -= 1
            return 1

        tasks = [asyncio.ensure_future(gate.run(job)) for _ in range(3)]
        await asyncio.sleep(0)
        with pytest.raises(QueueFullError):
            await gate.run(job)
        assert sum(await asyncio.gather(*tasks)) == 3
        assert peak == 1 and gate.pending == 0

    asyncio.run(scenario())
