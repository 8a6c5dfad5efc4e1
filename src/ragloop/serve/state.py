"""What the server holds for its lifetime: the pipeline (its models load on first use, on
the model thread), the model gate, the trace store, and where eval runs and uploads live.
The pipeline belongs to whoever made it: ``ragloop serve`` closes it when the server stops."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ragloop.config import Settings
from ragloop.feedback.otel import emit_trace, otlp_tracer
from ragloop.feedback.store import TraceStore
from ragloop.feedback.tracing import build_trace, new_trace_id
from ragloop.records import Answer, Feedback, Trace
from ragloop.serve.answering import AskOptions, answer_events, ask
from ragloop.serve.gate import ModelGate
from ragloop.serve.monitoring import Monitoring

log = logging.getLogger(__name__)


@dataclass
class ServerState:
    pipeline: Any  # a ragloop.pipeline.Pipeline (or a test's fake with ask and stream)
    settings: Settings
    data_dir: Path
    store: TraceStore
    gate: ModelGate
    tracer: Any = None  # an OpenTelemetry tracer when OTLP export is configured
    monitoring: Monitoring | None = None  # labels, online scores, the background monitor

    @classmethod
    def build(cls, pipeline, settings: Settings, data_dir: Path) -> ServerState:
        data_dir = Path(data_dir)
        return cls(pipeline=pipeline, settings=settings, data_dir=data_dir,
                   store=TraceStore.for_data_dir(
                       data_dir, max_traces=settings.serve.max_traces,
                       max_feedback_per_trace=settings.serve.max_feedback_per_trace),
                   gate=ModelGate(settings.serve.queue_size), tracer=otlp_tracer(),
                   monitoring=Monitoring(settings, data_dir))

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    def question_too_long(self, question: str) -> str | None:
        """Why ``question`` is refused, when it is longer than ``[serve] max_question_chars``:
        the model reads every character of it while every other client waits."""
        limit = self.settings.serve.max_question_chars
        if len(question) <= limit:
            return None
        return (f"the question is {len(question)} characters, over the limit of {limit} "
                f"([serve] max_question_chars)")

    def record(self, trace: Trace) -> None:
        self.store.add_trace(trace)
        if self.monitoring is not None:
            self.monitoring.wake()
        if self.tracer is not None:
            try:
                emit_trace(trace, self.tracer)
            except Exception as err:  # the stored trace is what matters; say what failed
                log.warning("OTLP export of trace %s failed: %s", trace.id, err)

    async def answer(self, question: str, options: AskOptions, *, endpoint: str,
                     on_text: Callable[[str], Awaitable[None]] | None = None
                     ) -> tuple[Answer, Trace]:
        """Answer on the model thread (through the gate), then store the trace. With
        ``on_text``, the answer is streamed and ``on_text`` hears the text written so far
        after each piece (a caller's progress)."""
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        trace_id = new_trace_id()  # known before answering: a conversation's turn names it
        if on_text is None:
            answer = await self.gate.run(lambda: ask(self.pipeline, question, options,
                                                     trace_id))
        else:
            answer = await self._streamed(question, options, on_text, trace_id)
        trace = build_trace(answer, started=started, wall_s=time.perf_counter() - t0,
                            trace_id=trace_id, endpoint=endpoint)
        await asyncio.to_thread(self.record, trace)
        return answer, trace

    async def _streamed(self, question: str, options: AskOptions,
                        on_text: Callable[[str], Awaitable[None]],
                        trace_id: str | None = None) -> Answer:
        """The model thread writes the text so far into a queue that this task drains; when
        the caller goes away (this task is cancelled) the model stops at its next piece."""
        loop = asyncio.get_running_loop()
        texts: asyncio.Queue[str | None] = asyncio.Queue()
        stopped = False

        def pump() -> Answer | None:
            written = ""
            with closing(answer_events(self.pipeline, question, options,
                                       trace_id)) as events:
                try:
                    for event in events:
                        if stopped:
                            return None
                        if event.kind == "answer":
                            return event.answer
                        written += event.text
                        loop.call_soon_threadsafe(texts.put_nowait, written)
                finally:
                    loop.call_soon_threadsafe(texts.put_nowait, None)
            return None  # answer_events raises rather than end without an answer

        async def relay() -> None:
            while (text := await texts.get()) is not None:
                try:
                    await on_text(text)
                except Exception as err:  # progress is a courtesy; the answer still counts
                    log.warning("progress for a streamed answer was not delivered: %s", err)

        relaying = asyncio.create_task(relay())
        try:
            answer = await self.gate.run(pump)
        except BaseException:
            stopped = True
            relaying.cancel()
            raise
        await relaying  # pump queued its end marker before it returned
        return answer

    def feedback(self, trace_id: str, *, rating: str | None = None,
                 corrected_answer: str | None = None, comment: str | None = None) -> Feedback:
        """Store feedback on a stored trace (``UnknownTraceError`` if there is none): the
        store the web page, the API and the MCP tool all write to."""
        record = Feedback(id=uuid.uuid4().hex, trace_id=trace_id, created=datetime.now(UTC),
                          rating=rating, corrected_answer=(corrected_answer or "").strip() or None,
                          comment=(comment or "").strip() or None)
        self.store.add_feedback(record)
        return record

    def close(self) -> None:
        if self.monitoring is not None:
            self.monitoring.close()  # before the gate: its pending model call is dropped
        self.gate.shutdown()
        self.store.close()
