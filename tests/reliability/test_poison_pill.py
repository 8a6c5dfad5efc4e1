"""Probe item 1 of issue 27: a document that is only a heading (ATX or setext Markdown, an
h1-only HTML page, a heading-only docx) is that document's recorded error; the rest of its
batch is indexed, a re-run does the same (it used to stop the whole ingest at that batch with
a ValueError from the store's input check), and an upload of one answers a 4xx naming it.
Run on the real embedded store and the real embedder (whose empty batch made the crash)."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from serve_helpers import LOCAL, serve_settings

from ragloop.config import IngestSettings
from ragloop.errors import StoreError
from ragloop.index.embedded import open_store
from ragloop.index.store import checked_document_input
from ragloop.ingest.sync import ingest_paths
from ragloop.pipeline import Pipeline
from ragloop.project import Project
from ragloop.records import Document
from ragloop.serve.app import create_app

HEADING_ONLY = {"atx.md": b"# Title\n", "setext.md": b"Another title\n=====\n",
                "page.html": b"<html><body><h1>An HTML heading</h1></body></html>"}


def _heading_only_docx(path):
    import docx

    document = docx.Document()
    document.add_heading("A Word heading", level=1)
    document.save(path)


def test_heading_only_documents_are_their_own_errors_and_the_batch_commits(tmp_path,
                                                                           real_embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, data in HEADING_ONLY.items():
        (docs / name).write_bytes(data)
    _heading_only_docx(docs / "heading.docx")
    (docs / "good.txt").write_text("Otters hold hands while they sleep.\n")
    store = open_store(tmp_path / "index")
    try:
        for _run in range(2):  # the re-run used to stop at the same batch
            report = ingest_paths([docs], settings=IngestSettings(), store=store,
                                  embedder=real_embedder, progress=False)
            assert report.failed == 4, report.errors
            for name in (*HEADING_ONLY, "heading.docx"):
                assert any(name in e and "only headings" in e for e in report.errors), name
            assert [e.source for e in store.documents()] == [str(docs / "good.txt")]
    finally:
        store.close()


def test_the_store_refuses_a_document_without_chunks_with_a_typed_error():
    document = Document(id="d", source="d.md", title="D", text="D", content_hash="h")
    with pytest.raises(StoreError, match="document d has no chunks"):
        checked_document_input(document, [], np.zeros((0,), np.float32))


def test_a_heading_only_upload_is_a_4xx_naming_it(tmp_path, real_embedder):
    settings = serve_settings()
    pipeline = Pipeline(Project(root=tmp_path, settings=settings), embedder=real_embedder)
    app = create_app(pipeline, settings, data_dir=tmp_path / ".ragloop")
    with pipeline, TestClient(app, base_url=LOCAL) as client:
        response = client.post("/v1/documents", files=[("files", ("t.md", b"# Title\n"))])
        assert response.status_code == 422, response.text
        assert "only headings" in response.json()["files"][0]["errors"][0]
        mixed = client.post("/v1/documents", files=[("files", ("t.md", b"# Title\n")),
                                                    ("files", ("ok.md", b"# Ok\n\nFine.\n"))])
        assert mixed.status_code == 207, mixed.text
        assert mixed.json()["saved"] == ["ok.md"]
