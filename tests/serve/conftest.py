from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))

from serve_fake_pipeline import FakePipeline  # noqa: E402
from serve_helpers import LOCAL, serve_settings  # noqa: E402

from ragloop.serve.app import create_app  # noqa: E402


@pytest.fixture
def serve_fake_pipeline():
    return FakePipeline()


@pytest.fixture
def client(tmp_path, serve_fake_pipeline):
    app = create_app(serve_fake_pipeline, serve_settings(), data_dir=tmp_path / "data")
    with TestClient(app, base_url=LOCAL) as test_client:
        yield test_client
