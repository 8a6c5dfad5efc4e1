"""Ingest bookkeeping on every store backend: typed, kept apart from the user's metadata
(which filters read), returned by ``documents()``, ``export()`` and the writer's
``entries()`` (read under the write lock, for concurrent ingests)."""

from __future__ import annotations

import numpy as np
from test_store_contract import make_store  # noqa: F401 - the contract suite's store fixture

from ragloop.index.store import Filters
from ragloop.records import Bookkeeping, Chunk, Document, IngestRecipe, content_hash

KEPT = Bookkeeping(file_hash="f" * 64, text_hash="t" * 64, minhash="AAAA",
                   ingest=IngestRecipe(fingerprint="abc", chunker="structure",
                                       dense_fields=("text",), embedder="fake-embedder"))


def store_one(store) -> Document:
    """A one-chunk document with KEPT bookkeeping and the user's metadata, committed."""
    text = "Penguins huddle for warmth."
    document = Document(id="d1", source="a.md", title="A", text=text,
                        content_hash=content_hash(text), metadata={"team": "blue"},
                        bookkeeping=KEPT)
    chunk = Chunk(id="d1#0", doc_id="d1", ordinal=0, text=text, end=len(text))
    with store.writer() as writer:
        writer.replace_document(document, [chunk], np.ones((1, 8), dtype=np.float32) / 8**0.5)
    return document


def test_bookkeeping_round_trips_apart_from_the_users_metadata(make_store):  # noqa: F811
    store = make_store()
    store_one(store)
    (entry,) = store.documents()
    assert entry.metadata == {"team": "blue"} and entry.bookkeeping == KEPT
    assert store.lexical_search("penguins", 5, Filters(fields={"team": "blue"}))
    writer = store.writer()
    try:
        found = writer.entries(["d1", "missing"])
    finally:
        writer.rollback()
    assert list(found) == ["d1"] and found["d1"].bookkeeping == KEPT
    (stored,) = store.export()
    assert stored.document.bookkeeping == KEPT and stored.document.metadata == {"team": "blue"}


def test_set_bookkeeping_changes_only_the_bookkeeping(make_store):  # noqa: F811
    store = make_store()
    document = store_one(store)
    renewed = KEPT.model_copy(update={"file_hash": "g" * 64})
    writer = store.writer()
    writer.set_bookkeeping("d1", renewed)
    writer.set_bookkeeping("missing", renewed)  # nothing to update: no error, no document
    assert list(store.documents())[0].bookkeeping == KEPT  # not before the commit
    writer.commit()
    (entry,) = store.documents()
    assert entry.bookkeeping == renewed and entry.metadata == {"team": "blue"}
    assert entry.content_hash == document.content_hash and entry.n_chunks == 1
    assert [h for h in store.lexical_search("penguins", 5)]
