"""Two concurrent ingests of the same files (issue 11, item 8): each reports what it
actually committed, so together they add each document once, not twice."""

from __future__ import annotations

import json
import threading

from fakes import FakeEmbedder
from ragloop.config import IngestSettings
from ragloop.index.embedded import open_store
from ragloop.ingest.observe import IngestObserver
from ragloop.ingest.sync import ingest_paths


class _Meet(IngestObserver):
    """Holds each run after it has read the index and found its files, until both have: both
    plan every document as new before either commits."""

    def __init__(self, barrier: threading.Barrier):
        self.barrier = barrier

    def files_found(self, n_files: int) -> None:
        self.barrier.wait(timeout=30)


def test_two_concurrent_ingests_add_each_document_once(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"_id": f"d{i}", "title": f"Record {i}",
                                          "text": f"Unique{i} marker and some filler words."})
                              + "\n" for i in range(300)))
    index = tmp_path / "index"
    open_store(index).close()
    barrier = threading.Barrier(2)
    reports = []

    def run():
        with open_store(index) as store:
            reports.append(ingest_paths([corpus], settings=IngestSettings(batch_docs=50),
                                        store=store, embedder=FakeEmbedder(), progress=False,
                                        observer=_Meet(barrier)))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(reports) == 2
    assert sum(r.added for r in reports) == 300
    assert all(r.added + r.unchanged == 300 for r in reports)
    with open_store(index) as store:
        assert len(list(store.documents())) == 300
