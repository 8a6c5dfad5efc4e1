"""What the server holds for its lifetime: the pipeline (built lazily on the model thread),
the model gate, the trace store, and where eval runs and uploads live."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
    pipeline_source: Any  # a pipeline (has ``ask``) or a zero-argument factory of one
    settings: Settings
    data_dir: Path
    store: TraceStore
    gate: ModelGate
    tracer: Any = None  # an OpenTelemetry tracer when OTLP export is configured
    _pipeline: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, pipeline_source, settings: Settings, data_dir: Path) -> ServerState:
        data_dir = Path(data_dir)
        return cls(pipeline_source=pipeline_source, settings=settings, data_dir=data_dir,
                   store=TraceStore.for_data_dir(data_dir),
                   gate=ModelGate(settings.serve.queue_size), tracer=otlp_tracer())

    @property
    def pipeline(self):
        """The pipeline, built on first use (loading models is slow, so not at start-up)."""
        with self._lock:
            if self._pipeline is None:
                source: Callable | Any = self.pipeline_source
                self._pipeline = source if hasattr(source, "ask") else source()
            return self._pipeline

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
        with self._lock:  # a pipeline the server built is the server's to close
            if self._pipeline is not None and self._pipeline is not self.pipeline_source:
                self._pipeline.close()
