"""Grounded answering with a fake LLM: citations, invalid markers, refusals, packing."""

from __future__ import annotations

import json

from answer_fakes import FakeRetriever, ask, make_chunks

from fakes import fake_llm
from ragloop.answer.citations import drop_markers, extract_citations, markers, with_markers
from ragloop.answer.prompt import REFUSAL, pack_context
from ragloop.config import AnswerSettings
from ragloop.records import Candidate


def test_markers_and_invalid_ones_are_separated():
    cands = [Candidate(chunk=c, score=1.0) for c in make_chunks()]
    citations, invalid = extract_citations("Port 8765 [1][9], see [2, 3].", cands)
    assert [c.marker for c in citations] == [1, 2, 3]
    assert citations[0].chunk_id == "c0" and citations[0].source == "docs/doc0.md"
    assert invalid == [9]
    assert drop_markers("Port 8765 [9].", [9]) == "Port 8765."
    assert drop_markers("See [2, 9].", [9]) == "See [2]."
    assert markers(with_markers("It is 8765.", [2, 1])) == [2, 1]


def test_direct_json_answer_maps_sources_and_reports_invalid():
    retriever = FakeRetriever()
    llm = fake_llm(json.dumps({"answer": "It listens on port 8765.", "sources": [1, 9]}))
    answer = ask("Which port does the server listen on?",
                 settings=AnswerSettings(mode="fast"), retriever=retriever, llm=llm)
    assert answer.strategy == "direct" and not answer.refused
    assert [c.chunk_id for c in answer.citations] == ["c0"]
    assert answer.metadata["invalid_markers"] == [9]
    assert "[9]" not in answer.text and "[1]" in answer.text
    assert len(answer.calls) == 1 and answer.calls[0].purpose == "answer"
    assert answer.prompt_tokens > 0


def test_inline_style_keeps_model_markers():
    retriever = FakeRetriever()
    llm = fake_llm("The server uses port 8765 [1].")
    settings = AnswerSettings(citation_style="inline")
    answer = ask("port?", settings=settings, retriever=retriever, llm=llm)
    assert answer.citations[0].marker == 1


def test_no_candidates_is_a_refusal_without_a_model_call():
    llm = fake_llm("should not be called")
    answer = ask("anything", settings=AnswerSettings(),
                 retriever=FakeRetriever(chunks=[]), llm=llm)
    assert answer.refused and answer.text == REFUSAL
    assert answer.metadata["refusal_reason"] == "no candidates"
    assert llm.backend.calls == []


def test_low_score_is_a_refusal():
    llm = fake_llm("x")
    answer = ask("q", settings=AnswerSettings(refuse_below=0.5),
                 retriever=FakeRetriever(scores=[0.3] * 5), llm=llm)
    assert answer.refused and "refuse_below" in answer.metadata["refusal_reason"]


def test_model_refusal_is_flagged():
    retriever = FakeRetriever()
    llm = fake_llm(json.dumps({"answer": REFUSAL, "sources": []}))
    answer = ask("Who founded Rome?", settings=AnswerSettings(),
                 retriever=retriever, llm=llm)
    assert answer.refused and answer.citations == ()


def test_context_is_packed_to_the_window():
    llm = fake_llm("x", context_window=400)  # fake counts words as tokens
    long = make_chunks(["word " * 120] * 5)
    cands = [Candidate(chunk=c, score=1.0) for c in long]
    packed = pack_context(cands, llm, question="q", max_chunks=5, max_tokens=100)
    assert 1 <= len(packed) < 5
    tiny = fake_llm("x", context_window=300)
    first = pack_context(cands, tiny, question="q", max_chunks=5, max_tokens=100)
    assert len(first) == 1 and len(first[0].chunk.text.split()) < 120
