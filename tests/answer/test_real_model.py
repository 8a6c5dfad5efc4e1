"""Answering mechanics on the real embedded model (SmolLM2-135M): citations valid, votes
counted, early stop and budgets honoured, streaming works. Retrieval is a fake over five
chunks so only the model is real here. Small max_tokens keep this affordable."""

from __future__ import annotations

import pytest
from answer_fakes import FakeRetriever, ask, stream

from ragloop.answer.strategies import build_strategy
from ragloop.config import AnswerSettings
from ragloop.records import AnswerRequest, Budget

pytestmark = pytest.mark.real_model

Q = "Which port does the ragloop server listen on?"


def _valid(answer):
    n = len(answer.candidates)
    assert all(1 <= c.marker <= n for c in answer.citations)
    assert all(c.chunk_id == answer.candidates[c.marker - 1].chunk.id for c in answer.citations)
    assert all(m > n or m < 1 for m in answer.metadata["invalid_markers"])


def test_direct_json_answer_cites_valid_chunks(real_llm):
    answer = ask(Q, settings=AnswerSettings(max_tokens=64),
                 retriever=FakeRetriever(), llm=real_llm)
    assert answer.text and len(answer.calls) == 1
    assert answer.calls[0].prompt_tokens > 100 and answer.calls[0].completion_tokens > 0
    _valid(answer)
    # The schema makes the model name sources; on this question it cites.
    assert answer.citations or answer.refused


def test_vote_counts_samples_and_stays_in_budget(real_llm):
    settings = AnswerSettings(samples=3, max_tokens=64)
    answer = build_strategy("vote", settings, retriever=FakeRetriever(), llm=real_llm).run(
        AnswerRequest(question=Q))
    taken = answer.metadata["samples"]
    assert sum(answer.metadata["votes"].values()) == taken == len(answer.calls)
    assert answer.confidence == max(answer.metadata["votes"].values()) / taken
    if taken < 3:
        assert answer.metadata["stopped"].startswith("early")
    _valid(answer)
    assert all(c.prompt_tokens > 0 for c in answer.calls)  # even a truncated JSON is counted
    capped = build_strategy("vote", settings, retriever=FakeRetriever(), llm=real_llm).run(
        AnswerRequest(question=Q, budget=Budget(max_latency_s=0.01)))
    assert len(capped.calls) == 1 and capped.metadata["stopped"] == "budget"


def test_stream_inline_on_the_real_model(real_llm):
    settings = AnswerSettings(mode="fast", citation_style="inline", max_tokens=40)
    events = list(stream(Q, settings=settings, retriever=FakeRetriever(), llm=real_llm))
    deltas = "".join(e.text for e in events if e.kind == "delta")
    final = events[-1].answer
    assert events[-1].kind == "answer" and final.metadata["streamed"]
    assert deltas.strip() and final.text
    _valid(final)


def test_streamed_answers_come_from_the_cache_the_second_time(real_llm, tmp_path):
    from ragloop.models.cache import DiskCache
    from ragloop.models.llm import LLMClient

    llm = LLMClient(real_llm.backend, DiskCache(tmp_path / "llm.sqlite", table="completions"))
    settings = AnswerSettings(max_tokens=24, temperature=0.8)  # sampled: a fresh call varies

    def streamed():
        events = list(stream(Q, settings=settings, retriever=FakeRetriever(), llm=llm))
        return "".join(e.text for e in events if e.kind == "delta"), events[-1].answer

    shown_1, first = streamed()
    shown_2, second = streamed()
    assert first.metadata["streamed"] == second.metadata["streamed"]
    assert [c.cached for c in first.calls] == [False] and [c.cached for c in second.calls] == [True]
    assert second.text == first.text and shown_2 == shown_1
    asked = ask(Q, settings=settings, retriever=FakeRetriever(), llm=llm)
    assert asked.text == first.text and asked.calls[0].cached
