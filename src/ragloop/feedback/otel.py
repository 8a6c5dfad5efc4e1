"""Send stored traces to an OpenTelemetry collector over OTLP, when one is configured.

The SDK is optional: without ``opentelemetry-sdk`` and an OTLP exporter installed, or without
``OTEL_EXPORTER_OTLP_ENDPOINT`` set, traces stay in SQLite only (``otlp_tracer`` says why).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ragloop.records import Trace

log = logging.getLogger(__name__)
ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
SCOPE = "ragloop"


def _ns(moment) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def _otel_value(value: Any) -> Any:
    """OTel attributes are scalars or homogeneous lists of scalars; anything else as text."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, list | tuple) and all(isinstance(v, int | float) for v in value):
        return list(value)
    return str(value)


def emit_trace(trace: Trace, tracer) -> None:
    """Replay one stored trace as OTel spans: a root ``ragloop <endpoint>`` span with one child
    per stored span, keeping the stored start/end times."""
    from opentelemetry import trace as otel_trace

    end = max((s.end for s in trace.spans), default=trace.created)
    root_attrs = {"gen_ai.operation.name": "invoke_workflow", "ragloop.trace_id": trace.id,
                  "ragloop.strategy": trace.strategy,
                  "gen_ai.usage.input_tokens": trace.metadata.get("gen_ai.usage.input_tokens", 0),
                  "gen_ai.usage.output_tokens":
                      trace.metadata.get("gen_ai.usage.output_tokens", 0)}
    root = tracer.start_span(f"ragloop {trace.metadata.get('endpoint', 'ask')}",
                             start_time=_ns(trace.created), attributes=root_attrs)
    context = otel_trace.set_span_in_context(root)
    for span in trace.spans:
        child = tracer.start_span(span.name, context=context, start_time=_ns(span.start),
                                  attributes={k: _otel_value(v)
                                              for k, v in span.attributes.items()
                                              if v is not None})
        child.end(end_time=_ns(span.end))
    root.end(end_time=_ns(end))


def otlp_tracer():
    """A tracer exporting over OTLP/HTTP, or None (logged once) when not configured."""
    if not os.environ.get(ENDPOINT_ENV):
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("%s is set but opentelemetry-sdk / opentelemetry-exporter-otlp-proto-http "
                    "are not installed; traces stay in SQLite only", ENDPOINT_ENV)
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": "ragloop"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider.get_tracer(SCOPE)
