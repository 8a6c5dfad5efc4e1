"""Probe 1 of issue 11, replayed against the real server (uvicorn) and the real store: a page
of another origin must not change state (the no-cors FormData upload), and a request under a
Host name the server does not answer to (DNS rebinding) is refused, with or without a key."""

from __future__ import annotations

import httpx
import pytest
from live import live_server
from security_helpers import RealStoreFakeAnswersPipeline, stored_ids
from serve_helpers import serve_settings

from ragloop.serve.app import create_app

KEY = "origin-test-key"
DOC = ("files", ("x.txt", b"Cross-site uploads must never be indexed.\n", "text/plain"))


@pytest.fixture(params=["no key", "key"])
def served(request, tmp_path, monkeypatch, real_embedder):
    serve = {}
    if request.param == "key":
        monkeypatch.setenv("RAGLOOP_ORIGIN_KEY", KEY)
        serve["api_key_env"] = "RAGLOOP_ORIGIN_KEY"
    settings = serve_settings(**serve)
    pipeline = RealStoreFakeAnswersPipeline(settings, tmp_path / "proj", real_embedder)
    data = pipeline.project.data_dir
    app = create_app(pipeline, settings, data_dir=data)
    with pipeline, live_server(app) as base:
        headers = {}
        if request.param == "key":  # a browser logged in: its session cookie
            login = httpx.post(base + "/login", data={"api_key": KEY})
            assert login.status_code == 303, login.text
            headers["Cookie"] = login.headers["set-cookie"].split(";")[0]
        yield base, headers, pipeline, data


def test_cross_origin_upload_is_refused_and_leaves_nothing(served):
    base, headers, pipeline, data = served
    # curl -X POST .../v1/documents -H "Origin: http://evil.example" -F "files=@x.txt"
    response = httpx.post(base + "/v1/documents", files=[DOC],
                          headers={**headers, "Origin": "http://evil.example"})
    assert response.status_code == 403, response.text
    assert "evil.example" in response.json()["error"]["message"]
    # what a browser sends for a no-cors fetch without an Origin it will reveal
    no_origin = httpx.post(base + "/v1/documents", files=[DOC],
                           headers={**headers, "Sec-Fetch-Site": "cross-site"})
    assert no_origin.status_code == 403
    null_origin = httpx.post(base + "/v1/ask", json={"question": "tides?"},
                             headers={**headers, "Origin": "null"})
    assert null_origin.status_code == 403
    assert not (data / "uploads").exists() or not any((data / "uploads").iterdir())
    assert stored_ids(pipeline.store) == {}


def test_same_origin_page_and_plain_clients_still_work(served):
    base, headers, pipeline, _ = served
    same = httpx.post(base + "/v1/documents", files=[DOC],
                      headers={**headers, "Origin": base, "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 201, same.text
    assert len(stored_ids(pipeline.store)) == 1
    plain = httpx.post(base + "/v1/ask", json={"question": "tides?"}, headers=headers)
    assert plain.status_code == 200  # curl, SDKs: no Origin header
    assert httpx.get(base + "/v1/traces", headers=headers).status_code == 200


@pytest.mark.parametrize("method, path", [("GET", "/v1/traces"), ("GET", "/"),
                                          ("POST", "/v1/ask"), ("GET", "/static/app.js")])
def test_unknown_host_header_is_refused(served, method, path):
    base, headers, _, _ = served
    response = httpx.request(method, base + path, json={"question": "tides?"},
                             headers={**headers, "Host": "attacker.example"})
    assert response.status_code == 403, response.text
    assert "allowed_hosts" in response.json()["error"]["message"]
    for host in ("localhost", "127.0.0.1"):
        ok = httpx.request(method, base + path, json={"question": "tides?"},
                           headers={**headers, "Host": f"{host}:8765"})
        assert ok.status_code == 200, (host, ok.text)


def test_allow_lists_admit_a_deployment_behind_a_proxy(tmp_path, monkeypatch):
    from serve_fake_pipeline import FakePipeline

    monkeypatch.setenv("RAGLOOP_ORIGIN_KEY", KEY)
    settings = serve_settings(api_key_env="RAGLOOP_ORIGIN_KEY",
                              allowed_hosts=["rag.example.com", "*.internal.example"],
                              allowed_origins=["https://rag.example.com"])
    app = create_app(FakePipeline(), settings, data_dir=tmp_path)
    auth = {"Authorization": f"Bearer {KEY}"}
    with live_server(app) as base:
        # the proxy keeps the public Host; the page's Origin is the public https origin
        proxied = httpx.post(base + "/v1/ask", json={"question": "tides?"},
                             headers={**auth, "Host": "rag.example.com",
                                      "Origin": "https://rag.example.com"})
        assert proxied.status_code == 200, proxied.text
        assert httpx.get(base + "/v1/traces", headers={
            **auth, "Host": "node1.internal.example"}).status_code == 200
        assert httpx.get(base + "/v1/traces", headers={
            **auth, "Host": "internal.example.evil"}).status_code == 403
        other = httpx.post(base + "/v1/ask", json={"question": "tides?"},
                           headers={**auth, "Host": "rag.example.com",
                                    "Origin": "https://evil.example"})
        assert other.status_code == 403


def test_healthz_answers_any_host_for_probes(served):
    base, _, _, _ = served
    probe = httpx.get(base + "/healthz", headers={"Host": "10.1.2.3:8765"})
    assert probe.status_code == 200 and probe.json()["status"] == "ok"


def test_ragloop_serve_process_guards_by_default(tmp_path):
    """The probe as filed: `ragloop serve` on a fresh project, then curl's requests. The
    `--host` given on the command line is a name the server answers to."""
    import os
    import subprocess
    import sys
    import time

    from live import free_port

    project = tmp_path / "proj"
    project.mkdir()
    (project / "ragloop.toml").write_text("", encoding="utf-8")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen(
        [sys.executable, "-c", "from ragloop.cli import main; main()", "-p", str(project),
         "serve", "--host", "127.0.0.2", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.2:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, \
                server.stdout.read().decode() if server.poll() is not None else "no start"
            time.sleep(0.2)
        evil = httpx.post(base + "/v1/documents", files=[DOC],
                          headers={"Origin": "http://evil.example"})
        assert evil.status_code == 403
        rebinding = httpx.get(base + "/v1/traces", headers={"Host": "attacker.example"})
        assert rebinding.status_code == 403
        assert httpx.get(base + "/v1/traces").status_code == 200  # Host: 127.0.0.2:port
        assert not (project / ".ragloop" / "uploads").exists()
    finally:
        server.terminate()
        server.wait(timeout=20)
