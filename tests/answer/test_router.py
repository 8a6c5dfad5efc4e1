"""Router, streaming and calibration with a fake LLM."""

from __future__ import annotations

import json

import pytest
from answer_fakes import FakeRetriever, ask, stream

from fakes import fake_llm
from ragloop.answer.calibrate import fit_thresholds, write_thresholds
from ragloop.answer.signals import question_signals
from ragloop.config import AnswerSettings, load_settings
from ragloop.errors import ConfigError
from ragloop.records import Budget

GROUNDED = json.dumps({"answer": "The server listens on port 8765.", "sources": [1]})


def test_modes_pick_the_configured_strategies():
    settings = AnswerSettings(samples=2)
    for mode, expected in (("fast", "direct"), ("slow", "vote")):
        answer = ask("Which port?", settings=settings, retriever=FakeRetriever(),
                     llm=fake_llm(GROUNDED), mode=mode)
        assert answer.strategy == expected
    with pytest.raises(ConfigError):
        ask("q", settings=settings, retriever=FakeRetriever(),
            llm=fake_llm(GROUNDED), mode="warp")


def test_question_signals():
    assert question_signals("Tom has 3 apples and buys 4 more. How many in total?")[
        "arithmetic"] >= 0.5
    assert question_signals("Which port does the server use?")["arithmetic"] == 0
    assert question_signals("Compare the port and the chunk size.")["multihop"] >= 0.5


def test_auto_keeps_a_grounded_fast_answer():
    llm = fake_llm(GROUNDED)
    answer = ask("Which port does the server listen on?",
                 settings=AnswerSettings(), retriever=FakeRetriever(), llm=llm,
                 mode="auto")
    route = answer.metadata["router"]
    assert not route["escalated"] and answer.strategy == "direct" and len(answer.calls) == 1
    assert route["signals"]["grounding"] == 1.0


def test_auto_escalates_arithmetic_and_records_all_calls():
    llm = fake_llm(json.dumps({"answer": "7 [1]", "sources": [1]}))
    answer = ask("Tom has 3 apples and buys 4 more. How many apples in total?",
                 settings=AnswerSettings(samples=3), retriever=FakeRetriever(),
                 llm=llm, mode="auto")
    route = answer.metadata["router"]
    assert route["escalated"] and route["reason"] == "arithmetic"
    assert answer.strategy == "vote"
    assert [c.purpose for c in answer.calls] == ["answer", "vote-1", "vote-2"]


def test_auto_stays_fast_when_the_budget_cannot_pay_for_slow():
    llm = fake_llm(json.dumps({"answer": "7", "sources": [1]}))
    first = ask("Tom has 3 apples and buys 4 more. How many in total?",
                settings=AnswerSettings(), retriever=FakeRetriever(), llm=llm,
                mode="fast")
    budget = Budget(max_tokens=int(first.prompt_tokens + first.completion_tokens) * 2)
    answer = ask("Tom has 3 apples and buys 4 more. How many in total?",
                 settings=AnswerSettings(samples=5), retriever=FakeRetriever(), llm=llm,
                 mode="auto", budget=budget)
    route = answer.metadata["router"]
    assert not route["escalated"] and route["reason"].startswith("budget")


def test_stream_inline_yields_deltas_then_the_answer():
    llm = fake_llm("The server listens on port 8765 [1] [7].")
    settings = AnswerSettings(mode="fast", citation_style="inline")
    events = list(stream("Which port?", settings=settings, retriever=FakeRetriever(),
                         llm=llm))
    deltas = [e.text for e in events if e.kind == "delta"]
    final = events[-1].answer
    assert len(deltas) > 3 and events[-1].kind == "answer"
    assert "".join(deltas).strip().startswith("The server listens")
    assert final.metadata["streamed"] and final.metadata["invalid_markers"] == [7]
    assert [c.marker for c in final.citations] == [1] and final.calls[0].completion_tokens > 0


def test_stream_json_style_streams_the_answer_field_then_its_markers():
    events = list(stream("Which port?", settings=AnswerSettings(mode="fast"),
                         retriever=FakeRetriever(), llm=fake_llm(GROUNDED)))
    deltas = [e.text for e in events if e.kind == "delta"]
    assert len(deltas) > 2  # word by word, not one piece
    final = events[-1].answer
    assert events[-1].kind == "answer" and final.metadata["streamed"] is True
    shown = "".join(deltas)
    assert not shown.lstrip().startswith("{")  # the reader never sees the JSON
    assert final.citations and all(f"[{c.marker}]" in shown for c in final.citations)


def test_stream_multi_call_strategy_arrives_whole():
    events = list(stream("Which port?", settings=AnswerSettings(), strategy="vote",
                         retriever=FakeRetriever(), llm=fake_llm(GROUNDED)))
    assert [e.kind for e in events] == ["delta", "answer"]
    assert events[-1].answer.metadata["streamed"] is False


def _records():
    rows = []
    for i in range(20):
        arithmetic = i % 2 == 0
        q = f"Tom has {i} apples and buys 4 more. How many in total?" if arithmetic else \
            f"What is fact number {i}?"
        rows.append({"id": str(i), "question": q, "strategy": "direct",
                     "correct": 0.0 if arithmetic else 1.0, "latency_s": 1.0,
                     "signals": {"grounding": 1.0}})
        rows.append({"id": str(i), "question": q, "strategy": "vote",
                     "correct": 1.0, "latency_s": 5.0})
    return rows


def test_calibration_escalates_only_where_it_pays():
    result = fit_thresholds(_records(), fast="direct", slow="vote", max_latency_ratio=0.8)
    assert result.fast_accuracy == 0.5 and result.slow_accuracy == 1.0
    assert result.accuracy == 1.0 and result.escalation_rate == 0.5
    assert result.mean_latency_s == 1.0 + 0.5 * 5.0 and result.feasible


def test_write_thresholds_keeps_comments(project):
    write_thresholds(project.config_path, {"grounding_below": 0.4, "arithmetic_at": 0.5})
    text = project.config_path.read_text()
    assert "# ragloop project configuration" in text and 'strategy = "direct"' in text
    settings = load_settings(project.config_path)
    assert settings.answer.router_thresholds == {"grounding_below": 0.4, "arithmetic_at": 0.5}


def test_calibration_reports_when_no_threshold_fits_the_latency_bound():
    result = fit_thresholds(_records(), fast="direct", slow="vote", max_latency_ratio=0.1)
    assert not result.feasible and result.escalation_rate == 0.0
