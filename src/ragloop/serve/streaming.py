"""Server-sent events from the model thread: answer events are pumped into an asyncio queue
and formatted by the endpoint (ragloop's own events or OpenAI chat chunks).

The gate place is taken before the response starts (so a full queue is a plain 503) and
given back only when the model thread is done, even if the client went away early.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi.responses import StreamingResponse

from ragloop.feedback.tracing import build_trace, new_trace_id
from ragloop.records import Answer, Trace
from ragloop.serve.answering import AskOptions, answer_events
from ragloop.serve.state import ServerState

log = logging.getLogger(__name__)
_DONE = object()


@dataclass(frozen=True)
class _Failure:
    message: str


def sse(data: dict | str, event: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return head + "".join(f"data: {line}\n" for line in payload.split("\n")) + "\n"


class Formatter:
    """Turns stream events into SSE text; subclassed per API flavour."""

    def delta(self, text: str) -> str:
        raise NotImplementedError

    def final(self, answer: Answer, trace: Trace) -> str:
        raise NotImplementedError

    def error(self, message: str) -> str:
        return sse({"error": {"message": message, "type": "server_error"}}, "error")


def stream_answer_response(state: ServerState, question: str, options: AskOptions,
                           formatter: Formatter, *, endpoint: str) -> StreamingResponse:
    state.gate.admit()  # raises QueueFullError → 503 before any byte is sent
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    cancelled = False
    trace_id = new_trace_id()
    started = datetime.now(UTC)
    t0 = time.perf_counter()

    def put(item) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        events = answer_events(state.pipeline, question, options, trace_id)
        try:
            for event in events:
                if cancelled:
                    log.info("client left; stopping stream %s", trace_id)
                    return
                put(event)
        except Exception as err:  # reported to the client as an error event
            log.exception("streaming answer failed")
            put(_Failure(f"{type(err).__name__}: {err}"))
        finally:
            events.close()  # stops the model at its next piece when the client left
            put(_DONE)

    future = state.gate.submit(pump)

    def finished(_fut) -> None:
        state.gate.release()

    future.add_done_callback(finished)

    async def events() -> AsyncIterator[str]:
        nonlocal cancelled
        try:
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, _Failure):
                    yield formatter.error(item.message)
                elif item.kind == "delta":
                    yield formatter.delta(item.text)
                else:
                    trace = build_trace(item.answer, started=started, trace_id=trace_id,
                                        wall_s=time.perf_counter() - t0, endpoint=endpoint,
                                        extra={"streamed": True})
                    await asyncio.to_thread(state.record, trace)
                    yield formatter.final(item.answer, trace)
        finally:
            cancelled = True

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Trace-Id": trace_id})


def answer_payload(answer: Answer, trace: Trace) -> dict:
    chat = answer.metadata.get("chat") or {}
    turn = {"conversation_id": chat["conversation_id"]} if "conversation_id" in chat else {}
    if "search_query" in answer.metadata:
        turn["search_query"] = answer.metadata["search_query"]
    return {**turn, "trace_id": trace.id, "question": answer.question, "answer": answer.text,
            "strategy": answer.strategy, "refused": answer.refused,
            "confidence": answer.confidence,
            "citations": [c.model_dump(mode="json") for c in answer.citations],
            "chunks": trace.metadata.get("chunks", []), "latency_s": answer.latency_s,
            "route": answer.route, "cached": answer.cached, "model_calls": len(answer.calls),
            "usage": {"prompt_tokens": answer.prompt_tokens,
                      "completion_tokens": answer.completion_tokens}}


class RagloopFormatter(Formatter):
    """``event: delta`` with ``{"text"}``, then ``event: answer`` with the full answer."""

    def delta(self, text: str) -> str:
        return sse({"text": text}, "delta")

    def final(self, answer: Answer, trace: Trace) -> str:
        return sse(answer_payload(answer, trace), "answer")

