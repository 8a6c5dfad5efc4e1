"""Probe items 12 (sessions, login guessing) and 13 (exposure) of issue 27: a session cookie
stayed valid after logout (it was derived from the key), ``/login`` took 486 guesses a
second, and ``ragloop serve --host 0.0.0.0`` started without an API key, relying on a Host
header any non-browser client sets freely."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from serve_fake_pipeline import FakePipeline
from serve_helpers import LOCAL, serve_settings
from typer.testing import CliRunner

from ragloop.cli import app as cli_app
from ragloop.errors import ConfigError
from ragloop.serve.app import create_app

KEY = "the-right-key-42"


def keyed_app(tmp_path, monkeypatch, **serve):
    monkeypatch.setenv("RAGLOOP_SESSION_KEY", KEY)
    return create_app(FakePipeline(), serve_settings(api_key_env="RAGLOOP_SESSION_KEY", **serve),
                      data_dir=tmp_path)


def test_a_session_cookie_is_worthless_after_logout(tmp_path, monkeypatch):
    with TestClient(keyed_app(tmp_path, monkeypatch), base_url=LOCAL) as client:
        login = client.post("/login", data={"api_key": KEY}, follow_redirects=False)
        cookie = login.cookies["ragloop_session"]
        assert KEY not in cookie
        assert client.get("/v1/traces/none").status_code == 404  # logged in: past the guard
        client.post("/logout", follow_redirects=False)
        # a copy of the cookie kept by the user (or an attacker) no longer opens anything
        client.cookies.set("ragloop_session", cookie)
        assert client.get("/v1/traces/none").status_code == 401
        # a new login gets a different token
        again = client.post("/login", data={"api_key": KEY}, follow_redirects=False)
        assert again.cookies["ragloop_session"] != cookie


def test_wrong_keys_are_limited_per_client(tmp_path, monkeypatch):
    app = keyed_app(tmp_path, monkeypatch, login_failures_per_minute=5)
    with TestClient(app, base_url=LOCAL) as client:
        statuses = [client.post("/login", data={"api_key": f"guess-{i}"},
                                follow_redirects=False).status_code for i in range(5)]
        assert statuses == [401] * 5
        limited = client.post("/login", data={"api_key": KEY}, follow_redirects=False)
        # while limited even the right key is not checked: guessing learns nothing
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        bearer = client.get("/v1/traces/none", headers={"authorization": f"Bearer {KEY}"})
        assert bearer.status_code == 429
        assert client.get("/healthz").status_code == 200  # the open probe stays open


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20"])
def test_binding_beyond_loopback_without_a_key_is_refused(tmp_path, monkeypatch, host):
    with pytest.raises(ConfigError, match="allow-no-key"):
        create_app(FakePipeline(), serve_settings(host=host), data_dir=tmp_path)
    # explicitly allowed, or with a key: it starts
    create_app(FakePipeline(), serve_settings(host=host, allow_no_key=True),
               data_dir=tmp_path / "a")
    keyed_app(tmp_path / "b", monkeypatch, host=host)
    # loopback needs neither
    create_app(FakePipeline(), serve_settings(host="127.0.0.1"), data_dir=tmp_path / "c")


def test_ragloop_serve_on_all_interfaces_without_a_key_exits_with_the_rule(tmp_path,
                                                                         monkeypatch):
    import uvicorn

    def started(_self):  # a server that started is the failure: never block the suite on it
        raise AssertionError("ragloop serve started on 0.0.0.0 without a key")

    monkeypatch.setattr(uvicorn.Server, "run", started)
    (tmp_path / "ragloop.toml").write_text('[project]\nname = "exposed"\n')
    result = CliRunner().invoke(cli_app, ["--project", str(tmp_path), "serve",
                                          "--host", "0.0.0.0"])
    assert result.exit_code == 1, result.output
    assert "no API key is set" in result.output and "--allow-no-key" in result.output
