"""Test doubles for answering tests: a fake retriever over a handful of chunks (named as a fake;
the real retriever is tested in tests/retrieve)."""

from __future__ import annotations

from ragloop.records import Candidate, Chunk

TEXTS = (
    "The ragloop server listens on port 8765 by default.",
    "Dense retrieval uses all-MiniLM-L6-v2 embeddings with 384 dimensions.",
    "Chunks are stored in SQLite with an FTS5 table for BM25 search.",
    "Evaluation runs write per-example records to a JSONL file.",
    "Chunks are at most 256 tokens long because of the embedder limit.",
)


def make_chunks(texts=TEXTS) -> list[Chunk]:
    return [Chunk(id=f"c{i}", doc_id=f"d{i}", ordinal=0, text=t,
                  metadata={"source": f"docs/doc{i}.md", "title": f"Doc {i}"})
            for i, t in enumerate(texts)]


class FakeRetriever:
    """Ranks fixed chunks by word overlap with the query; scores fall by rank."""

    name = "fake"

    def __init__(self, chunks=None, scores=None):
        self.chunks = chunks if chunks is not None else make_chunks()
        self.scores = scores
        self.queries: list[str] = []

    def search(self, query, k=10, filters=None):
        self.queries.append(query)
        words = set(getattr(query, "text", query).lower().split())  # a SearchQuery as words
        ranked = sorted(self.chunks, key=lambda c: -len(words & set(c.text.lower().split())))
        out = []
        for i, chunk in enumerate(ranked[:k]):
            score = self.scores[i] if self.scores else 1.0 - 0.1 * i
            out.append(Candidate(chunk=chunk, score=score, scores={"fake": score}))
        return out


def ask(question, *, settings, retriever, llm, embedder=None, **request):
    """One answer through the real ``Answerer`` over the given parts (fakes or real)."""
    from ragloop.answer.answerer import Answerer
    from ragloop.records import AnswerRequest

    answerer = Answerer(settings, retriever=retriever, llm=llm, embedder=embedder)
    return answerer.answer(AnswerRequest(question=question, **request))


def stream(question, *, settings, retriever, llm, embedder=None, **request):
    """``ask``, streamed (``Answerer.stream``)."""
    from ragloop.answer.answerer import Answerer
    from ragloop.records import AnswerRequest

    answerer = Answerer(settings, retriever=retriever, llm=llm, embedder=embedder)
    return answerer.stream(AnswerRequest(question=question, **request))
