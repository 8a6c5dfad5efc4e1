"""Uploads → Pipeline.ingest → the embedded index (with the fake embedder, named as such);
partial failures are 207, total failures 422, each file's error reported."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from serve_helpers import LOCAL, serve_settings

from fakes import FakeEmbedder
from ragloop.pipeline import Pipeline
from ragloop.project import Project
from ragloop.serve.app import create_app


@pytest.fixture
def upload_client(tmp_path):
    """The real pipeline and embedded store; only the embedder is a fake (no LLM is built:
    enrichment is off by default)."""
    settings = serve_settings()
    project = Project(root=tmp_path, settings=settings)
    with Pipeline(project, embedder=FakeEmbedder()) as pipeline, \
            TestClient(create_app(pipeline, settings, data_dir=project.data_dir),
                       base_url=LOCAL) as client:
        yield client, pipeline


def test_upload_ingests_into_the_index(upload_client):
    client, pipeline = upload_client
    response = client.post("/v1/documents", files=[
        ("files", ("notes.md", b"# Tides\n\nThe Moon pulls the oceans.\n", "text/markdown")),
        ("files", ("../../etc/evil name.txt", b"Plain text about volcanoes.\n", "text/plain"))])
    assert response.status_code == 201, response.text
    body = response.json()
    notes, evil = body["saved"]  # no path tricks in names; a changed name gets a tag
    assert notes == "notes.md" and re.fullmatch(r"evil_name~[0-9a-f]{8}\.txt", evil)
    assert body["counts"]["added"] == 2 and body["ok"]
    assert pipeline.store.stats()["documents"] == 2


def test_partial_and_total_failures_are_reported(upload_client):
    client, _ = upload_client
    partial = client.post("/v1/documents", files=[
        ("files", ("good.md", b"# Good\n\nFine text.\n", "text/markdown")),
        ("files", ("broken.pdf", b"this is not a pdf", "application/pdf"))])
    assert partial.status_code == 207, partial.text
    broken = [f for f in partial.json()["files"] if f["path"] == "broken.pdf"][0]
    assert broken["errors"] and "broken.pdf" in broken["errors"][0]
    failed = client.post("/v1/documents", files=[
        ("files", ("bad.pdf", b"%PDF-1.4 nonsense", "application/pdf"))])
    assert failed.status_code == 422
    missing = client.post("/v1/documents")
    assert missing.status_code == 422
    assert "files" in missing.json()["error"]["message"]
