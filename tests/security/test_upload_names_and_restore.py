"""Probe items 8 and 9 of issue 27, on the real server app and the real embedded store (the
embedder is the tests' fake): after a re-upload killed mid-way, the next failed re-upload
must not delete the bytes the index still serves (it set aside the new, never-ingested file
over the only copy of the old one); and an upload named like the saved name of another
(`a b.md` is saved with a tag of its name) never lands on that file."""

from __future__ import annotations

import io

import pytest
from fastapi import UploadFile
from fastapi.testclient import TestClient
from security_helpers import RealStoreFakeAnswersPipeline, stored_ids
from serve_helpers import LOCAL, serve_settings

from fakes import FakeEmbedder
from ragloop.serve.app import create_app
from ragloop.serve.ingesting import UPLOAD_NAMESPACE
from ragloop.serve.uploads import save_upload

V1 = b"# Note\n\nThe first version speaks of glaciers.\n"
V2 = b"# Note\n\nThe second version speaks of volcanoes.\n"


@pytest.fixture
def project(tmp_path):
    settings = serve_settings()
    pipeline = RealStoreFakeAnswersPipeline(settings, tmp_path / "proj", FakeEmbedder())
    with pipeline:
        yield pipeline, settings


def _client(pipeline, settings):  # a fresh app: the server after a restart
    app = create_app(pipeline, settings, data_dir=pipeline.project.data_dir)
    return TestClient(app, base_url=LOCAL)


def _upload(client, name, data):
    return client.post("/v1/documents", files=[("files", (name, data))])


def _killed_reupload(pipeline, data):
    """What a re-upload leaves when the server is killed during its ingest: the earlier
    file set aside, the new one in its place (the real save, then nothing more)."""
    uploads = pipeline.project.data_dir / "uploads"
    save_upload(UploadFile(io.BytesIO(data), filename="note.md"), uploads, set())
    return uploads


def _indexed_text(pipeline):
    hits = pipeline.store.lexical_search("version speaks", 1)
    return pipeline.store.get_chunks([hits[0][0]])[0].text


def test_a_failed_reupload_after_a_kill_keeps_the_bytes_the_index_serves(project):
    pipeline, settings = project
    with _client(pipeline, settings) as client:
        assert _upload(client, "note.md", V1).status_code == 201
    uploads = _killed_reupload(pipeline, V2)
    with _client(pipeline, settings) as client:
        assert _upload(client, "note.md", b"").status_code == 422  # fails: restored
    assert (uploads / "note.md").read_bytes() == V1
    assert "glaciers" in _indexed_text(pipeline)
    assert not list((uploads / ".replaced").iterdir())


def test_when_the_kill_came_after_the_ingest_the_new_bytes_stay(project):
    pipeline, settings = project
    with _client(pipeline, settings) as client:
        assert _upload(client, "note.md", V1).status_code == 201
    uploads = _killed_reupload(pipeline, V2)
    pipeline.ingest([uploads / "note.md"], namespace=UPLOAD_NAMESPACE)  # committed, then kill
    with _client(pipeline, settings) as client:
        assert _upload(client, "note.md", b"").status_code == 422
    assert (uploads / "note.md").read_bytes() == V2
    assert "volcanoes" in _indexed_text(pipeline)


def test_an_upload_named_like_a_tagged_name_gets_its_own_file(project):
    pipeline, settings = project
    with _client(pipeline, settings) as client:
        spaced = _upload(client, "a b.md", b"# S\n\nThe spaced name.\n").json()["saved"][0]
        stem = spaced.removesuffix(".md")
        old_form = stem.replace("~", "-") + ".md"  # the tagged form before the fix
        literal = _upload(client, spaced, b"# L\n\nThe literal name.\n").json()["saved"][0]
        legacy = _upload(client, old_form, b"# O\n\nThe old form.\n").json()["saved"][0]
    assert len({spaced, literal, legacy}) == 3, (spaced, literal, legacy)
    uploads = pipeline.project.data_dir / "uploads"
    assert (uploads / spaced).read_bytes() == b"# S\n\nThe spaced name.\n"
    assert len([i for i in stored_ids(pipeline.store) if i.startswith("upload:")]) == 3
