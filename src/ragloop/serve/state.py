"""What the server holds for its lifetime: the pipeline (its models load on first use, on
the model thread), the model gate, the trace store, and where eval runs and uploads live.
The pipeline belongs to whoever made it: ``ragloop serve`` closes it when the server stops."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ragloop.config import Settings
from ragloop.feedback.otel import emit_trace, otlp_tracer
from ragloop.feedback.store import TraceStore
from ragloop.feedback.tracing import build_trace
from ragloop.records import Answer, Trace
from ragloop.serve.answering import AskOptions, ask
from ragloop.serve.gate import ModelGate

log = logging.getLogger(__name__)


@dataclass
class ServerState:
    pipeline: Any  # a ragloop.pipeline.Pipeline (or a test's fake with ask and stream)
    settings: Settings
    data_dir: Path
    store: TraceStore
    gate: ModelGate
    tracer: Any = None  # an OpenTelemetry tracer when OTLP export is configured

    @classmethod
    def build(cls, pipeline, settings: Settings, data_dir: Path) -> ServerState:
        data_dir = Path(data_dir)
        return cls(pipeline=pipeline, settings=settings, data_dir=data_dir,
                   store=TraceStore.for_data_dir(
                       data_dir, max_traces=settings.serve.max_traces,
                       max_feedback_per_trace=settings.serve.max_feedback_per_trace),
                   gate=ModelGate(settings.serve.queue_size), tracer=otlp_tracer())

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    def record(self, trace: Trace) -> None:
        self.store.add_trace(trace)
        if self.tracer is not None:
            try:
                emit_trace(trace, self.tracer)
            except Exception as err:  # the stored trace is what matters; say what failed
                log.warning("OTLP export of trace %s failed: %s", trace.id, err)

    async def answer(self, question: str, options: AskOptions, *,
                     endpoint: str) -> tuple[Answer, Trace]:
        """Answer on the model thread (through the gate), then store the trace."""
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        answer = await self.gate.run(lambda: ask(self.pipeline, question, options))
        trace = build_trace(answer, started=started, wall_s=time.perf_counter() - t0,
                            endpoint=endpoint)
        await asyncio.to_thread(self.record, trace)
        return answer, trace

    def close(self) -> None:
        self.gate.shutdown()
        self.store.close()
