"""Reranking: a second, slower look at the top candidates of a first-stage retriever.

A ``Reranker`` scores (query, chunk text) pairs; ``RerankingRetriever`` reorders the first
``depth`` hits by ``weight * reranker + (1 - weight) * first-stage`` (both min-max scaled;
ties keep the first-stage order). Backends: ``rerank_llm`` (the configured LLM) and
``rerank_cross_encoder`` (a local sentence-transformers cross-encoder folder).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ragloop.index.store import Filters
from ragloop.retrieve.fuse import normalize
from ragloop.retrieve.hits import Hit, HitRetriever
from ragloop.retrieve.query import Query, query_text

RERANK = "rerank"


class Reranker(Protocol):
    name: str

    def score(self, query: str, passages: Sequence[str]) -> list[float | None]:
        """One relevance score per passage (higher is better); None where it failed."""
        ...


class RerankingRetriever(HitRetriever):
    def __init__(self, inner: HitRetriever, reranker: Reranker, *, depth: int = 20,
                 weight: float = 1.0):
        self.inner = inner
        self.store = inner.store
        self.reranker = reranker
        self.depth = depth
        self.weight = weight
        self.name = f"{inner.name}+{RERANK}"

    def hits(self, query: Query, k: int, filters: Filters | None = None) -> list[Hit]:
        first = self.inner.hits(query, max(k, self.depth), filters)
        head, tail = first[:self.depth], first[self.depth:]
        if not head:
            return []
        chunks = {c.id: c for c in self.store.get_chunks([h.chunk_id for h in head])}
        texts = [chunks[h.chunk_id].text if h.chunk_id in chunks else "" for h in head]
        raw = self.reranker.score(query_text(query), texts)
        prior = normalize(np.asarray([h.score for h in head], dtype=np.float64), "minmax")
        # a failed score is taken as the first stage's opinion, never as "irrelevant"
        given = np.asarray([np.nan if s is None else s for s in raw], dtype=np.float64)
        ok = ~np.isnan(given)
        relevance = prior.copy()
        if ok.any():
            relevance[ok] = normalize(given[ok], "minmax")
        combined = self.weight * relevance + (1 - self.weight) * prior
        order = sorted(range(len(head)), key=lambda i: -combined[i])  # stable: ties keep order
        out = []
        for rank, i in enumerate(order, start=1):
            hit = head[i]
            if ok[i]:
                hit.scores[RERANK] = float(given[i])
            hit.ranks[RERANK] = rank
            hit.score = float(combined[i])
            out.append(hit)
        floor = min(h.score for h in out) if out else 0.0
        for hit in tail:  # below every reranked hit, in first-stage order
            hit.score = floor - 1.0
        return (out + tail)[:k]
