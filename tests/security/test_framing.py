"""Probe item 11 of issue 27: no X-Frame-Options or CSP ``frame-ancestors``, so a local page
framed the UI and ran an ask and a thumbs-down for the user (auth off, the default)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from serve_fake_pipeline import FakePipeline
from serve_helpers import LOCAL, serve_settings

from ragloop.serve.app import create_app


@pytest.fixture
def client(tmp_path):
    app = create_app(FakePipeline(), serve_settings(), data_dir=tmp_path)
    run = app.state.ragloop.runs_dir / "run-1"
    run.mkdir(parents=True)
    (run / "report.html").write_text("<h1>report</h1>")
    with TestClient(app, base_url=LOCAL) as test_client:
        yield test_client


@pytest.mark.parametrize("method, path, headers", [
    ("GET", "/", {}),
    ("POST", "/v1/ask", {}),  # the request a framing page would make
    ("GET", "/v1/traces/none", {}),
    ("GET", "/", {"host": "evil.example"}),  # refused by the Host check: still not framable
])
def test_no_page_may_be_framed_by_another_site(client, method, path, headers):
    response = client.request(method, path, headers=headers,
                              json={"question": "q"} if method == "POST" else None)
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/runs/run-1/report.html", "/monitor/report"])
def test_a_report_may_be_framed_by_the_servers_own_page_only(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["content-security-policy"] == "frame-ancestors 'self'"
