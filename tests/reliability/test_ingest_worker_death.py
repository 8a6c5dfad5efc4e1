"""A worker that dies mid-ingest (issue 14, item 3): what was committed stays, its batch is
retried once on a fresh worker, and a document that kills its worker every time is reported
as that document's error while every other document is indexed."""

from __future__ import annotations

import json
import os

from fakes import FakeEmbedder
from ingest.fake_store import FakeStore
from ragloop.config import IngestSettings
from ragloop.executors.local import LocalPoolExecutor
from ragloop.ingest.sync import ingest_paths


class PoisonedEmbedder(FakeEmbedder):
    """The fake embedder (named as such); embedding text with POISON kills the process, as
    an out-of-memory kill would."""

    def embed_passages(self, texts):
        if any("POISON" in t for t in texts):
            os._exit(137)
        return super().embed_passages(texts)


def test_a_document_that_kills_its_worker_is_reported_and_the_rest_commit(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    texts = [f"Record {i} about topic{i}." for i in range(9)]
    texts[4] = "This record is POISON for the embedder."
    corpus.write_text("".join(json.dumps({"_id": f"d{i}", "title": "", "text": t}) + "\n"
                              for i, t in enumerate(texts)))
    store = FakeStore()
    with LocalPoolExecutor(2) as pool:
        report = ingest_paths([corpus], settings=IngestSettings(batch_docs=1), store=store,
                              embedder=PoisonedEmbedder(), progress=False, executor=pool)
    assert set(store.docs) == {f"d{i}" for i in range(9)} - {"d4"}
    assert report.added == 8 and report.failed == 1
    assert "d4" in report.errors[0] and "worker process died" in report.errors[0]
