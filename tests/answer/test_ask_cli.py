"""``ragloop ask`` and ``ragloop route calibrate`` through the CLI, on a fake retriever and
a fake LLM (the pipeline's components are swapped for fakes; the command code is real)."""

from __future__ import annotations

import json

import pytest
from answer_fakes import FakeRetriever
from typer.testing import CliRunner

from fakes import fake_llm
from ragloop.cli import app
from ragloop.config import load_settings
from ragloop.pipeline import Pipeline


@pytest.fixture
def fake_pipeline(monkeypatch):
    llm = fake_llm(json.dumps({"answer": "The server listens on port 8765.", "sources": [1, 9]}))
    monkeypatch.setattr(Pipeline, "retriever", property(lambda self: FakeRetriever()))
    monkeypatch.setattr(Pipeline, "llm", property(lambda self: llm))
    return llm


def test_ask_prints_answer_then_sources(project, fake_pipeline):
    result = CliRunner().invoke(app, ["-p", str(project.root), "ask", "Which port?",
                                      "--mode", "fast"])
    assert result.exit_code == 0, result.output
    # streamed answer, then the markers it cites, then the sources
    assert "port 8765. [1]" in result.output and "Sources" in result.output
    assert result.output.index("port 8765") < result.output.index("Sources")
    assert "docs/doc0.md" in result.output and "[9]" in result.output  # reported as dropped


def test_ask_json(project, fake_pipeline):
    result = CliRunner().invoke(app, ["-p", str(project.root), "ask", "Which port?", "--json",
                                      "--mode", "auto"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["citations"][0]["chunk_id"] == "c0"
    assert answer["metadata"]["router"]["mode"] == "auto"


def test_ask_rejects_a_bad_mode(project, fake_pipeline):
    result = CliRunner().invoke(app, ["-p", str(project.root), "ask", "q", "--mode", "warp"])
    assert result.exit_code == 2


def test_route_calibrate_writes_thresholds(project, tmp_path):
    records = tmp_path / "records.jsonl"
    with records.open("w") as out:
        for i in range(12):
            q = f"Tom has {i} apples and buys 4 more. How many?" if i % 3 == 0 else f"Fact {i}?"
            out.write(json.dumps({"id": i, "question": q, "strategy": "direct",
                                  "correct": float(i % 3 != 0), "latency_s": 1.0}) + "\n")
            out.write(json.dumps({"id": i, "question": q, "strategy": "vote", "correct": 1.0,
                                  "latency_s": 9.0}) + "\n")
    result = CliRunner().invoke(app, ["-p", str(project.root), "route", "calibrate",
                                      str(records)])
    assert result.exit_code == 0, result.output
    thresholds = load_settings(project.config_path).answer.router_thresholds
    assert thresholds and "always slow" in result.output


def test_the_footer_says_what_answered_why_and_what_it_cost():
    from ragloop.cli.ask_cmds import answer_footer
    from ragloop.records import Answer, LLMCall

    call = LLMCall(purpose="answer", model="m", prompt_tokens=100, completion_tokens=20,
                   latency_s=1.0, cached=True)
    floored = Answer(question="q", text="t", strategy="extract", latency_s=2.1, calls=(call,),
                     metadata={"router": {"mode": "auto", "chosen": "extract", "floor": True,
                                          "reason": "the generated answer failed the "
                                                    "grounding check"}})
    assert answer_footer(floored) == ("extract (auto: the generated answer failed the "
                                      "grounding check): 1 model call, from cache, 120 tokens, "
                                      "2.1s")
    assert floored.route["floor"] and floored.cached
    extracted = Answer(question="q", text="t", strategy="extract", latency_s=0.4)
    assert answer_footer(extracted) == "extract: no model call, 0.4s"
    assert not extracted.cached
