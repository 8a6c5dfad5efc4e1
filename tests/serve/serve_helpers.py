"""Helpers for the server tests."""

from __future__ import annotations

from ragloop.config import Settings, parse_settings

# TestClient's default Host, "testserver", is not a name the server answers to (it refuses
# unknown Host headers); tests talk to it as a local client would.
LOCAL = "http://127.0.0.1:8765"


def serve_settings(**serve) -> Settings:
    return parse_settings({"serve": serve})
