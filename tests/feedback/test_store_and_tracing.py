"""Trace store (SQLite, WAL) and trace building with GenAI attribute names."""

from __future__ import annotations

import sqlite3

import pytest
from feedback_helpers import T0, make_answer

from ragloop.feedback.store import TraceStore, UnknownTraceError
from ragloop.feedback.tracing import build_trace
from ragloop.records import Feedback, LLMCall


def test_spans_per_stage_with_genai_attributes():
    calls = (LLMCall(purpose="rerank", model="m", prompt_tokens=50, completion_tokens=2,
                     latency_s=0.1),
             LLMCall(purpose="answer", model="m", prompt_tokens=300, completion_tokens=40,
                     latency_s=1.0),
             LLMCall(purpose="judge-faithfulness", model="j", prompt_tokens=90,
                     completion_tokens=3, latency_s=0.2))
    answer = make_answer("why?", "because [1]", calls=calls).model_copy(
        update={"latency_s": 1.5, "strategy": "cot"})
    trace = build_trace(answer, started=T0, wall_s=1.6)
    assert [s.name for s in trace.spans] == ["retrieve", "rerank", "generate", "judge"]
    retrieve, rerank, generate, judge = trace.spans
    assert retrieve.attributes["gen_ai.operation.name"] == "retrieval"
    assert retrieve.attributes["ragloop.retrieved_ids"] == list(trace.retrieved_ids)
    assert retrieve.attributes["ragloop.signals"] == []
    assert (retrieve.end - retrieve.start).total_seconds() == pytest.approx(0.2)
    assert generate.attributes["gen_ai.usage.input_tokens"] == 300
    assert generate.attributes["gen_ai.usage.output_tokens"] == 40
    assert generate.attributes["gen_ai.request.model"] == "m"
    assert judge.attributes["gen_ai.request.model"] == "j"
    assert all(s.attributes["ragloop.strategy"] == "cot" for s in trace.spans)
    assert all(a.end <= b.start for a, b in zip(trace.spans, trace.spans[1:], strict=False))
    assert trace.metadata["gen_ai.usage.input_tokens"] == 440
    assert trace.metadata["chunks"][0]["markers"] == [1]


def test_store_round_trip_listing_and_unknown_ids(store, recorder):
    first = recorder.trace("q1", "a1")
    second = recorder.trace("q2", "a2")
    assert store.get_trace(first).answer == "a1"
    assert [i.trace.id for i in store.recent(10)] == [second, first]
    recorder.feedback(first, rating="up")
    recorder.feedback(first, corrected="better a1")
    item = store.recent(10)[1]
    assert item.latest_rating == "up" and item.latest_correction == "better a1"
    assert [i.trace.id for i in store.iter_with_feedback(batch=1)] == [first]
    assert store.ids_starting_with(first[:8]) == [first]
    with pytest.raises(UnknownTraceError):
        store.get_trace("missing")
    with pytest.raises(UnknownTraceError):
        store.add_feedback(Feedback(id="f", trace_id="missing", created=T0, rating="up"))


def test_store_uses_wal_and_survives_reopen(tmp_path, recorder, store):
    trace_id = recorder.trace("q", "a")
    recorder.feedback(trace_id, rating="down", comment="wrong source")
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    reopened = TraceStore(store.path)
    assert reopened.feedback_for(trace_id)[0].comment == "wrong source"
    reopened.close()


def test_iter_with_feedback_pages_through_many(store, recorder):
    ids = [recorder.trace(f"q{i}", f"a{i}") for i in range(7)]
    for trace_id in ids[::2]:
        recorder.feedback(trace_id, rating="up")
    assert [i.trace.id for i in store.iter_with_feedback(batch=2)] == ids[::2]
