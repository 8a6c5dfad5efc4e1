"""Helpers for the server tests."""

from __future__ import annotations

from ragloop.config import Settings, parse_settings


def serve_settings(**serve) -> Settings:
    return parse_settings({"serve": serve})
