"""Stored traces replay as OpenTelemetry spans (SDK in-memory exporter)."""

from __future__ import annotations

import pytest
from feedback_helpers import T0, make_answer

from ragloop.feedback.otel import emit_trace, otlp_tracer
from ragloop.feedback.tracing import build_trace

sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk (test extra)")


def test_trace_becomes_root_span_with_children():
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace = build_trace(make_answer("why?", "because [1]"), started=T0, wall_s=0.6)
    emit_trace(trace, provider.get_tracer("test"))
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"ragloop ask", "retrieve", "generate"}
    root = spans["ragloop ask"]
    for name in ("retrieve", "generate"):
        assert spans[name].parent.span_id == root.context.span_id
        assert spans[name].context.trace_id == root.context.trace_id
    generate = spans["generate"].attributes
    assert generate["gen_ai.operation.name"] == "chat"
    assert generate["gen_ai.usage.input_tokens"] == 10
    assert generate["gen_ai.usage.output_tokens"] == 5
    assert spans["retrieve"].attributes["ragloop.retrieved_ids"] == trace.retrieved_ids
    assert spans["retrieve"].start_time == int(T0.timestamp() * 1e9)
    assert root.end_time == spans["generate"].end_time


def test_no_endpoint_means_no_exporter(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert otlp_tracer() is None
