"""Dense retrieval over chunk vectors, and the query encoder it shares with the question
index so a query is embedded once however many dense signals use it."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ragloop.index.store import Filters, Store
from ragloop.models.embedder import Embedder
from ragloop.retrieve.base import SIGNALS
from ragloop.retrieve.hits import Hit, HitRetriever, ranked
from ragloop.retrieve.query import Query, mixed_vector


class QueryEncoder:
    def __init__(self, embedder: Embedder, size: int = 64):
        self.embedder = embedder
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._size = size

    def __call__(self, query: Query) -> np.ndarray:
        """The query's vector (a weighted query's parts mixed, ``retrieve.query``)."""
        if not isinstance(query, str):
            return mixed_vector(query, self)
        vector = self._recent.get(query)
        if vector is None:
            vector = np.asarray(self.embedder.embed_queries([query])[0], dtype=np.float32)
            self._recent[query] = vector
            if len(self._recent) > self._size:
                self._recent.popitem(last=False)
        return vector


class DenseRetriever(HitRetriever):
    def __init__(self, store: Store, encoder: QueryEncoder, name: str = "dense"):
        self.store = store
        self.encoder = encoder
        self.name = name

    def hits(self, query: Query, k: int, filters: Filters | None = None) -> list[Hit]:
        pairs = self.store.vector_search(self.encoder(query), k, filters, target="chunks")
        return ranked(self.name, pairs)


@SIGNALS.register("dense")
def build_dense(store: Store, encoder: QueryEncoder | None, name: str) -> DenseRetriever:
    return DenseRetriever(store, encoder, name)
