"""Probe 4 of issue 11: the API key must never travel in a URL nor reach a log. The page's
login and report tab are replayed against uvicorn with its access log on (as `ragloop serve`
runs it), and the captured log is searched for the key."""

from __future__ import annotations

import logging

import httpx
import pytest
from live import live_server
from serve_fake_pipeline import FakePipeline
from serve_helpers import serve_settings

from ragloop.serve.app import create_app
from ragloop.serve.pages import STATIC_DIR

KEY = "k3y-that-must-not-leak-9f2c"


class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def logged(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGLOOP_LOG_KEY", KEY)
    app = create_app(FakePipeline(), serve_settings(api_key_env="RAGLOOP_LOG_KEY"),
                     data_dir=tmp_path)
    run = app.state.ragloop.runs_dir / "run-1"
    run.mkdir(parents=True)
    (run / "report.html").write_text("<h1>Eval run one</h1>")
    capture = Capture()
    with live_server(app, log_level="info") as base:
        for name in ("uvicorn.access", "uvicorn.error"):
            logging.getLogger(name).addHandler(capture)
        try:
            yield base, capture
        finally:
            for name in ("uvicorn.access", "uvicorn.error"):
                logging.getLogger(name).removeHandler(capture)


def test_login_page_and_report_never_put_the_key_in_a_url(logged):
    base, capture = logged
    with httpx.Client(base_url=base, follow_redirects=True) as browser:  # keeps cookies
        page = browser.get("/")
        assert page.status_code == 401
        assert 'method="post"' in page.text and 'action="/login"' in page.text
        wrong = browser.post("/login", data={"api_key": "nope"})
        assert wrong.status_code == 401 and "Wrong API key" in wrong.text
        login = browser.post("/login", data={"api_key": KEY})
        assert login.status_code == 200 and login.url.path == "/"  # 303 → the page
        cookie = browser.cookies.get("ragloop_session")
        assert cookie and KEY not in cookie  # a session token, not the key
        assert browser.get("/static/app.js").status_code == 200
        info = browser.get("/v1/reports/latest").json()
        assert "api_key" not in info["url"]
        report = browser.get(info["url"])  # the report tab's frame: the cookie opens it
        assert report.status_code == 200 and "Eval run one" in report.text
        asked = browser.post("/v1/ask", json={"question": "tides?"},
                             headers={"Origin": base})
        assert asked.status_code == 200
        assert browser.post("/logout").status_code == 401  # back on the login page
        assert browser.get("/v1/traces").status_code == 401
    # a client that still puts the key in a URL gets nothing for it, and the log hides it
    assert httpx.get(f"{base}/v1/traces?api_key={KEY}").status_code == 401
    log = "\n".join(capture.lines)
    assert "POST /login" in log and "/v1/reports/latest" in log  # the access log was on
    assert KEY not in log


def test_the_page_script_sends_no_key_in_urls():
    script = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    assert "api_key=" not in script and "localStorage.setItem" not in script
