"""Probe 2 of issue 11 and the rejected-upload probe of item 8, replayed against the real
server and the real embedded store: an upload never replaces a document it did not create,
file names keep their letters, and a rejected file leaves nothing in uploads/."""

from __future__ import annotations

import json

import httpx
import pytest
from live import live_server
from security_helpers import RealStoreFakeAnswersPipeline, stored_ids
from serve_helpers import serve_settings

from ragloop.serve.app import create_app


@pytest.fixture
def served(tmp_path, real_embedder):
    settings = serve_settings()
    pipeline = RealStoreFakeAnswersPipeline(settings, tmp_path / "proj", real_embedder)
    app = create_app(pipeline, settings, data_dir=pipeline.project.data_dir)
    with pipeline, live_server(app) as base:
        yield base, pipeline, tmp_path


def _upload(base, *files):
    return httpx.post(base + "/v1/documents", timeout=120,
                      files=[("files", (name, data)) for name, data in files])


def test_jsonl_upload_cannot_replace_a_cli_ingested_document(served):
    base, pipeline, tmp = served
    corpus = tmp / "corpus.jsonl"
    corpus.write_text(json.dumps({"_id": "ID", "title": "Original",
                                  "text": "The original text about glaciers."}) + "\n")
    report = pipeline.ingest([corpus])  # as `ragloop ingest` does
    assert report.counts()["added"] == 1
    before = stored_ids(pipeline.store)
    assert before == {"ID": f"{corpus}#ID"}

    hostile = json.dumps({"_id": "ID", "title": "Replaced", "text": "Injected text."})
    response = _upload(base, ("i.jsonl", hostile.encode() + b"\n"))
    assert response.status_code == 201, response.text
    counts = response.json()["counts"]
    assert counts["added"] == 1 and counts["changed"] == 0
    after = stored_ids(pipeline.store)
    assert after["ID"] == before["ID"]  # the CLI document is untouched
    assert after["upload:i.jsonl#ID"].endswith("uploads/i.jsonl#ID")
    found = pipeline.store.lexical_search("glaciers", 5)
    assert [chunk_id for chunk_id, _ in found] == ["ID#0"]


def test_names_keep_their_letters_and_never_collide(served):
    base, pipeline, tmp = served
    response = _upload(base, ("über.md", b"# U\n\nUmlaut u document.\n"),
                       ("äber.md", b"# A\n\nUmlaut a document.\n"))
    assert response.status_code == 201, response.text
    saved = response.json()["saved"]
    assert saved == ["über.md", "äber.md"]
    assert sorted(p.name for p in (pipeline.project.data_dir / "uploads").iterdir()) == ["äber.md",
                                                                             "über.md"]
    assert set(stored_ids(pipeline.store)) == {"upload:über.md", "upload:äber.md"}
    # names that had to change get a tag of the original name: still two files
    spaced = _upload(base, ("a b.md", b"# S\n\nSpace.\n"), ("a_b.md", b"# T\n\nUnderscore.\n"))
    names = spaced.json()["saved"]
    assert names[1] == "a_b.md" and names[0].startswith("a_b~") and names[0] != names[1]


def test_rejected_upload_leaves_nothing_behind(served):
    base, pipeline, tmp = served
    uploads = pipeline.project.data_dir / "uploads"
    response = _upload(base, ("payload.exe", b"MZ\x90\x00 not a document"))
    assert response.status_code == 422, response.text
    assert "no loader for '.exe'" in response.json()["files"][0]["errors"][0]
    assert not uploads.exists() or not [p for p in uploads.iterdir() if p.is_file()]
    mixed = _upload(base, ("good.md", b"# Good\n\nFine.\n"), ("payload.exe", b"MZ"),
                    ("empty.md", b""))
    assert mixed.status_code == 207, mixed.text
    assert mixed.json()["saved"] == ["good.md"]
    assert sorted(p.name for p in uploads.iterdir() if p.is_file()) == ["good.md"]
    # a failed re-upload of a name puts the earlier file back; its document stays
    again = _upload(base, ("good.md", b""))
    assert again.status_code == 422
    assert (uploads / "good.md").read_bytes() == b"# Good\n\nFine.\n"
    assert set(stored_ids(pipeline.store)) == {"upload:good.md"}


def test_concurrent_uploads_of_one_name_stay_consistent(served):
    """A good and a failing upload of one name at once: the good one is ingested and kept,
    the failing one leaves nothing (unserialised, each set aside and ingested the other's
    bytes)."""
    import asyncio

    base, pipeline, _ = served
    uploads = pipeline.project.data_dir / "uploads"
    good = b"# Good\n\nThe good version.\n"

    async def both():
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            return await asyncio.gather(*[
                client.post("/v1/documents", files=[("files", ("same.md", data))])
                for data in (good, b"")])

    for _ in range(3):
        ok, failed = asyncio.run(both())
        assert ok.status_code == 201 and failed.status_code == 422, (ok.text, failed.text)
        assert (uploads / "same.md").read_bytes() == good
        assert "upload:same.md" in stored_ids(pipeline.store)
        aside = uploads / ".replaced"
        assert not aside.exists() or not list(aside.iterdir())  # nothing left set aside
