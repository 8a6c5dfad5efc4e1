"""Shared fixtures. The real embedded model and embedder are loaded once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # so tests can `import fakes`

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def real_llm():
    """The default embedded model (SmolLM2-135M-Instruct), uncached."""
    from ragloop.config import LLMSettings
    from ragloop.models.factory import build_llm

    return build_llm(LLMSettings(), cache_dir=None)


@pytest.fixture(scope="session")
def real_embedder():
    """The default ONNX MiniLM embedder, uncached."""
    from ragloop.config import EmbedderSettings
    from ragloop.models.factory import build_embedder

    return build_embedder(EmbedderSettings(cache=False), cache_dir=None)


@pytest.fixture
def project(tmp_path):
    from ragloop.project import Project

    return Project.init(tmp_path / "proj")


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    path = SHARED / "datasets"
    if not path.is_dir():
        pytest.fail(f"shared datasets not found at {path}")
    return path


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL + pgvector server URL: ``RAGLOOP_TEST_PG_URL`` when set, else a server
    started for this session (``tests/pgserver.py``) and stopped by its pid afterwards. The
    URL is also put in the environment, so child processes of tests reach the same server."""
    import os

    url = os.environ.get("RAGLOOP_TEST_PG_URL")
    if url:
        yield url
        return
    from pgserver import start_server

    url, _, stop = start_server()
    os.environ["RAGLOOP_TEST_PG_URL"] = url
    try:
        yield url
    finally:
        del os.environ["RAGLOOP_TEST_PG_URL"]
        stop()
