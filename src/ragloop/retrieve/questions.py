"""The question index: BM25 or dense search over generated questions, each mapped to the
chunk it was written for. A chunk scores as its best-matching question, and the candidate
keeps that question (``Candidate.matched_question``) so ``--explain`` can show it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ragloop.index.store import Filters, Store
from ragloop.retrieve.base import SIGNALS
from ragloop.retrieve.hits import Hit, HitRetriever
from ragloop.retrieve.query import Query, weighted_lexical

# several questions may point to one chunk: search deeper so k distinct chunks remain
OVERFETCH = 4


class QuestionRetriever(HitRetriever):
    def __init__(self, store: Store, name: str, *, encoder: Callable[[str], np.ndarray]
                 | None = None):
        """Lexical when ``encoder`` is None, dense otherwise."""
        self.store = store
        self.name = name
        self.encoder = encoder

    def _search(self, query: Query, depth: int, filters: Filters | None):
        if self.encoder is None:
            return weighted_lexical(self.store, query, depth, filters, target="questions")
        return self.store.vector_search(self.encoder(query), depth, filters,
                                        target="questions")

    def hits(self, query: Query, k: int, filters: Filters | None = None) -> list[Hit]:
        pairs = self._search(query, k * OVERFETCH, filters)
        questions = {q.id: q for q in self.store.get_questions([qid for qid, _ in pairs])}
        best: dict[str, Hit] = {}
        for question_id, score in pairs:  # best first, so the first hit per chunk wins
            question = questions.get(question_id)
            if question is None or question.chunk_id in best:
                continue
            rank = len(best) + 1
            best[question.chunk_id] = Hit(question.chunk_id, score, {self.name: score},
                                          {self.name: rank}, matched_question=question.text)
            if len(best) == k:
                break
        return list(best.values())


@SIGNALS.register("questions_bm25")
def build_questions_bm25(store: Store, encoder, name: str) -> QuestionRetriever:
    return QuestionRetriever(store, name)


@SIGNALS.register("questions_dense")
def build_questions_dense(store: Store, encoder, name: str) -> QuestionRetriever:
    return QuestionRetriever(store, name, encoder=encoder)
