"""BM25 over chunks (the store's lexical index)."""

from __future__ import annotations

from ragloop.index.store import Filters, Store
from ragloop.retrieve.base import SIGNALS
from ragloop.retrieve.hits import Hit, HitRetriever, ranked
from ragloop.retrieve.query import Query, weighted_lexical


class BM25Retriever(HitRetriever):
    def __init__(self, store: Store, name: str = "bm25"):
        self.store = store
        self.name = name

    def hits(self, query: Query, k: int, filters: Filters | None = None) -> list[Hit]:
        return ranked(self.name, weighted_lexical(self.store, query, k, filters,
                                                  target="chunks"))


@SIGNALS.register("bm25")
def build_bm25(store: Store, encoder, name: str) -> BM25Retriever:
    return BM25Retriever(store, name)
