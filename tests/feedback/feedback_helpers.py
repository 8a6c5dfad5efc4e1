"""Helpers for the feedback tests: answers and a recorder of traces and feedback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ragloop.feedback.store import TraceStore
from ragloop.feedback.tracing import build_trace
from ragloop.records import Answer, Candidate, Chunk, Citation, Feedback, LLMCall

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_answer(question: str, text: str, *, calls=()) -> Answer:
    chunk = Chunk(id=f"c-{abs(hash(question)) % 1000}", doc_id="d-1", ordinal=0,
                  text=f"Passage about {question}")
    return Answer(question=question, text=text, candidates=(Candidate(chunk=chunk, score=0.9),),
                  citations=(Citation(marker=1, chunk_id=chunk.id, doc_id="d-1",
                                      source="docs/a.md", title="A"),),
                  calls=calls or (LLMCall(purpose="answer", model="m", prompt_tokens=10,
                                          completion_tokens=5, latency_s=0.2),),
                  latency_s=0.5)


class Recorder:
    """Writes traces and feedback into a store with increasing timestamps."""

    def __init__(self, store: TraceStore):
        self.store = store
        self.n = 0

    def tick(self) -> datetime:
        self.n += 1
        return T0 + timedelta(seconds=self.n)

    def trace(self, question: str, answer: str) -> str:
        trace = build_trace(make_answer(question, answer), started=self.tick(), wall_s=0.6)
        self.store.add_trace(trace)
        return trace.id

    def feedback(self, trace_id: str, rating=None, corrected=None, comment=None) -> None:
        self.store.add_feedback(Feedback(id=f"f{self.n}-{trace_id[:6]}", trace_id=trace_id,
                                         created=self.tick(), rating=rating,
                                         corrected_answer=corrected, comment=comment))
