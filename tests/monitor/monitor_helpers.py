"""Live traffic for the monitor tests: answers made into traces the way the server makes
them (``feedback.tracing.build_trace``), stored with chosen times, feedback and scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ragloop.feedback.store import TraceStore
from ragloop.feedback.tracing import build_trace
from ragloop.records import Answer, Candidate, Chunk, Citation, Feedback, LLMCall, Trace

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
TIDES = "Ocean tides are caused mainly by the gravity of the Moon pulling on the oceans."
LAVA = "A volcano erupts when magma rises through cracks in the crust and reaches the surface."
CHUNKS = (Chunk(id="c-tides", doc_id="d-tides", ordinal=0, text=TIDES,
                metadata={"source": "docs/tides.md", "title": "Tides"}),
          Chunk(id="c-lava", doc_id="d-lava", ordinal=0, text=LAVA,
                metadata={"source": "docs/volcanoes.md", "title": "Volcanoes"}))


def answer(text: str, *, question: str = "What causes ocean tides?", refused: bool = False,
           strategy: str = "extract", model: str = "m", prompt_tokens: int = 100,
           completion_tokens: int = 20, calls: int = 1) -> Answer:
    """An answer over the two chunks; ``[1]`` in ``text`` cites the tides chunk."""
    return Answer(
        question=question, text=text, strategy=strategy, refused=refused,
        candidates=tuple(Candidate(chunk=c, score=0.9 - i / 10) for i, c in enumerate(CHUNKS)),
        citations=tuple(Citation(marker=i + 1, chunk_id=c.id, doc_id=c.doc_id,
                                 source=c.metadata["source"], title=c.metadata["title"])
                        for i, c in enumerate(CHUNKS) if f"[{i + 1}]" in text),
        calls=tuple(LLMCall(purpose="answer", model=model, prompt_tokens=prompt_tokens,
                            completion_tokens=completion_tokens, latency_s=0.1)
                    for _ in range(calls)),
        latency_s=0.2)


GOOD = answer(TIDES.rstrip(".") + " [1].")
INVENTED = answer("Tides come from the wind blowing across the sea every night [1].")


def store(traces: TraceStore, made: Answer, *, at: datetime = NOW, wall_s: float = 0.5,
          rating: str | None = None) -> Trace:
    trace = build_trace(made, started=at, wall_s=wall_s)
    traces.add_trace(trace)
    if rating:
        traces.add_feedback(Feedback(id=f"f-{trace.id}", trace_id=trace.id,
                                     created=at + timedelta(seconds=1), rating=rating))
    return trace
