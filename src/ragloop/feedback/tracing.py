"""Turn one answered question into a ``Trace`` with spans named after OpenTelemetry's GenAI
semantic conventions (``gen_ai.*`` attributes).

The answering layer records what each model call cost (``Answer.calls``) but not when it
started, so span times are laid out in order from the request's start: retrieval first
(the answer's latency not spent in model calls), then each call back to back. Spans carry
``ragloop.timing = "derived"`` to say so.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ragloop.records import Answer, LLMCall, Span, Trace

RERANK_PURPOSES = ("rerank",)
JUDGE_PURPOSES = ("judge", "verify")  # verify: the answer checked against its sources
MAX_CHUNK_CHARS = 2000  # chunk text kept per retrieved candidate, for the page and exports


def new_trace_id() -> str:
    return uuid.uuid4().hex


def span_kind(call: LLMCall) -> str:
    purpose = call.purpose.lower()
    if purpose.startswith(RERANK_PURPOSES):
        return "rerank"
    if purpose.startswith(JUDGE_PURPOSES):
        return "judge"
    return "generate"


def _call_attributes(call: LLMCall, kind: str, strategy: str) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": call.model,
        "gen_ai.response.model": call.model,
        "gen_ai.usage.input_tokens": call.prompt_tokens,
        "gen_ai.usage.output_tokens": call.completion_tokens,
        "ragloop.span.kind": kind,
        "ragloop.purpose": call.purpose,
        "ragloop.strategy": strategy,
        "ragloop.cached": call.cached,
        "ragloop.latency_s": round(call.latency_s, 6),
        "ragloop.timing": "derived",
    }


def chunk_view(answer: Answer) -> list[dict[str, Any]]:
    """What the page shows when a citation is clicked: each retrieved chunk and its source."""
    cited = {c.chunk_id: c for c in answer.citations}

    def source_of(chunk) -> tuple[str, str]:
        if chunk.id in cited:
            return cited[chunk.id].source, cited[chunk.id].title
        return chunk.metadata.get("source", ""), chunk.metadata.get("title", chunk.header)

    return [{"chunk_id": c.chunk.id, "doc_id": c.chunk.doc_id, "score": round(c.score, 6),
             "source": source_of(c.chunk)[0], "title": source_of(c.chunk)[1],
             "markers": [m.marker for m in answer.citations if m.chunk_id == c.chunk.id],
             "section": list(c.chunk.section_path), "page": c.chunk.page,
             "text": c.chunk.text[:MAX_CHUNK_CHARS]} for c in answer.candidates]


def build_trace(answer: Answer, *, started: datetime, wall_s: float,
                trace_id: str | None = None, endpoint: str = "ask",
                extra: dict[str, Any] | None = None) -> Trace:
    """A trace of one answered request; ``wall_s`` is the server's own timing of it."""
    started = started if started.tzinfo else started.replace(tzinfo=UTC)
    strategy = answer.strategy
    model_s = sum(c.latency_s for c in answer.calls)
    retrieve_s = max(0.0, min(answer.latency_s or wall_s, wall_s) - model_s)
    retrieved = tuple(c.chunk.id for c in answer.candidates)
    cursor = started
    spans = [Span(name="retrieve", start=cursor, end=cursor + timedelta(seconds=retrieve_s),
                  attributes={
                      "gen_ai.operation.name": "retrieval",
                      # what was searched: a follow-up's standalone form, else the question
                      "gen_ai.retrieval.query.text": answer.metadata.get("search_query",
                                                                         answer.question),
                      "ragloop.retrieved_ids": list(retrieved),
                      "ragloop.retrieved_count": len(retrieved),
                      # which signals scored the candidates (bm25, dense, rerank, ...)
                      "ragloop.signals": sorted({k for c in answer.candidates for k in c.scores}),
                      "ragloop.strategy": strategy,
                      "ragloop.latency_s": round(retrieve_s, 6),
                      "ragloop.timing": "derived"})]
    cursor = spans[0].end
    for call in answer.calls:
        kind = span_kind(call)
        end = cursor + timedelta(seconds=call.latency_s)
        spans.append(Span(name=kind, start=cursor, end=end,
                          attributes=_call_attributes(call, kind, strategy)))
        cursor = end
    metadata = {
        "endpoint": endpoint,
        "wall_s": round(wall_s, 6),
        "latency_s": round(answer.latency_s, 6),
        "refused": answer.refused,
        "confidence": answer.confidence,
        "gen_ai.usage.input_tokens": answer.prompt_tokens,
        "gen_ai.usage.output_tokens": answer.completion_tokens,
        "models": sorted({c.model for c in answer.calls}),
        "citations": [c.model_dump(mode="json") for c in answer.citations],
        "chunks": chunk_view(answer),
        # a turn of a conversation: its id, what was searched and how (ragloop.chat)
        **({"chat": answer.metadata["chat"]} if "chat" in answer.metadata else {}),
        **(extra or {}),
    }
    return Trace(id=trace_id or new_trace_id(), created=started, question=answer.question,
                 answer=answer.text, strategy=strategy, spans=tuple(spans),
                 retrieved_ids=retrieved, metadata=metadata)
