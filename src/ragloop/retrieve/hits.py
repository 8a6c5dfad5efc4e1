"""What single-signal retrievers return before chunk records are fetched: ranked chunk ids.

Fusion and reranking work on these lightweight hits, so chunk records are read from the
store only for the final ``k`` candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ragloop.index.store import Filters, Store
from ragloop.records import Candidate
from ragloop.retrieve.query import Query


@dataclass
class Hit:
    chunk_id: str
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    ranks: dict[str, int] = field(default_factory=dict)
    matched_question: str | None = None


class HitRetriever:
    """Base of every retriever here: ``hits`` does the work, ``search`` adds the records."""

    name: str
    store: Store

    def hits(self, query: Query, k: int, filters: Filters | None = None) -> list[Hit]:
        raise NotImplementedError

    def search(self, query: Query, k: int = 10,
               filters: Filters | None = None) -> list[Candidate]:
        return to_candidates(self.store, self.hits(query, k, filters))


def ranked(name: str, pairs: Sequence[tuple[str, float]]) -> list[Hit]:
    return [Hit(chunk_id, score, {name: score}, {name: rank})
            for rank, (chunk_id, score) in enumerate(pairs, start=1)]


def to_candidates(store: Store, hits: Sequence[Hit]) -> list[Candidate]:
    chunks = {c.id: c for c in store.get_chunks([h.chunk_id for h in hits])}
    return [Candidate(chunk=chunks[h.chunk_id], score=h.score, scores=h.scores, ranks=h.ranks,
                      matched_question=h.matched_question)
            for h in hits if h.chunk_id in chunks]
