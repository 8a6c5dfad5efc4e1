"""Ingestion as stages: the per-document stage pickles and gives the same result in another
process; a pool of workers builds the same index as one process; bookkeeping is typed and
kept out of the user's metadata; an index written before that still loads and is unchanged."""

from __future__ import annotations

import json
import pickle
import sqlite3

import numpy as np
import pytest

from fakes import FakeEmbedder
from ragloop.config import EmbedderSettings, IngestSettings
from ragloop.errors import StoreError
from ragloop.executors.local import LocalPoolExecutor
from ragloop.index.embedded import open_store
from ragloop.ingest.process import DocumentStage, ModelSpec, ProcessBatch
from ragloop.ingest.sync import ingest_paths
from ragloop.records import Document, content_hash

from .fake_store import FakeStore
from .samples import make_bad_input_folder

TEXT = ("# Bees\n\nHoney bees dance to show where flowers are.\n\n## Hives\n\n"
        + "Worker bees build wax combs. " * 80)


def _document() -> Document:
    return Document(id="doc1", source="bees.md", title="Bees", text=TEXT,
                    content_hash=content_hash(TEXT))


def test_the_document_stage_pickles_and_runs_the_same_in_a_worker_process():
    stage = DocumentStage(IngestSettings(), contextual=False, questions_per_chunk=0,
                          embedder=FakeEmbedder())
    here = stage(_document())
    copy = pickle.loads(pickle.dumps(stage))
    assert copy(_document()).chunks == here.chunks
    with LocalPoolExecutor(1) as pool:
        (outcome,) = pool.map(ProcessBatch(stage), [[_document()]])
    there = outcome.result.items[0]
    assert there.chunks == here.chunks and len(here.chunks) > 1
    assert np.allclose(there.chunk_vectors, FakeEmbedder().embed_passages(
        [c.dense_text for c in here.chunks]))


def test_a_stage_built_from_settings_pickles_without_its_models():
    spec = ModelSpec(EmbedderSettings(cache=False))
    stage = DocumentStage(IngestSettings(), contextual=False, questions_per_chunk=0,
                          models=spec)
    state = pickle.loads(pickle.dumps(stage)).__dict__
    assert state["_embedder"] is None and state["models"] == spec


def test_two_worker_processes_build_the_same_index_as_one_process(tmp_path):
    folder = make_bad_input_folder(tmp_path / "docs")
    root = folder["good_md"].parent
    settings = IngestSettings(batch_docs=2)
    alone, pooled = FakeStore(), FakeStore()
    one = ingest_paths([root], settings=settings, store=alone, embedder=FakeEmbedder(),
                       progress=False)
    with LocalPoolExecutor(2) as pool:
        two = ingest_paths([root], settings=settings, store=pooled, embedder=FakeEmbedder(),
                           progress=False, executor=pool)
    assert one.counts() == two.counts() and one.errors == two.errors
    assert alone.docs.keys() == pooled.docs.keys()
    for doc_id, (document, chunks, vectors, _) in alone.docs.items():
        other = pooled.docs[doc_id]
        assert other[0] == document and other[1] == chunks
        assert np.allclose(other[2], vectors)


def test_bookkeeping_is_typed_and_not_in_the_users_metadata(tmp_path):
    folder = make_bad_input_folder(tmp_path / "docs")
    with open_store(tmp_path / "index") as store:
        ingest_paths([folder["good_md"], folder["corpus"]], settings=IngestSettings(),
                     store=store, embedder=FakeEmbedder(), progress=False)
        entries = {e.source: e for e in store.documents()}
    for entry in entries.values():
        assert not {"ingest", "file_hash", "text_hash", "minhash"} & entry.metadata.keys()
        kept = entry.bookkeeping
        assert kept.text_hash and kept.minhash and kept.ingest.embedder == "fake-embedder"
    md = next(e for e in entries.values() if e.metadata.get("format") == "md")
    assert md.bookkeeping.file_hash is not None and "path" in md.metadata


def test_an_index_written_before_typed_bookkeeping_loads_and_is_unchanged(tmp_path):
    folder = make_bad_input_folder(tmp_path / "docs")
    paths = [folder["good_md"], folder["corpus"]]
    index = tmp_path / "index"
    with open_store(index) as store:
        first = ingest_paths(paths, settings=IngestSettings(), store=store,
                             embedder=FakeEmbedder(), progress=False)
    # rewrite the rows the way the old code stored them: bookkeeping inside metadata
    conn = sqlite3.connect(index / "index.sqlite")
    for doc_id, metadata, kept in conn.execute(
            "SELECT id, metadata, bookkeeping FROM documents").fetchall():
        legacy = json.loads(kept)
        del legacy["ingest"]["embedder"]  # old indexes did not record it
        conn.execute("UPDATE documents SET metadata=? WHERE id=?",
                     (json.dumps({**json.loads(metadata), **legacy}), doc_id))
    conn.execute("ALTER TABLE documents DROP COLUMN bookkeeping")
    conn.commit()
    conn.close()
    with open_store(index) as store:
        entries = list(store.documents())
        assert len(entries) == first.added
        assert all(e.bookkeeping.ingest and e.bookkeeping.text_hash
                   and "minhash" not in e.metadata for e in entries)
        again = ingest_paths(paths, settings=IngestSettings(), store=store,
                             embedder=FakeEmbedder(), progress=False)
    assert again.unchanged == first.added and again.added == again.changed == 0


def test_a_run_on_a_pool_stopped_mid_way_resumes_like_a_local_one(tmp_path):
    folder = make_bad_input_folder(tmp_path / "docs")
    root = folder["good_md"].parent
    settings = IngestSettings(batch_docs=2)
    store = FakeStore(fail_on_commit=3)
    with LocalPoolExecutor(2) as pool:
        with pytest.raises(StoreError):
            ingest_paths([root], settings=settings, store=store, embedder=FakeEmbedder(),
                         progress=False, executor=pool)
        # 2 workers get batches of batch_docs / 2 = 1 document: the two committed before
        # the stop stay
        assert len(store.docs) == 2
        store.fail_on_commit = None
        report = ingest_paths([root], settings=settings, store=store,
                              embedder=FakeEmbedder(), progress=False, executor=pool)
    assert report.unchanged == 2 and report.added == 6 and len(store.docs) == 8
