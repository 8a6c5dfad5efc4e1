"""Strategy mechanics with a fake LLM: votes, early stop, budgets, verifiers, decomposition."""

from __future__ import annotations

import json

from answer_fakes import FakeRetriever

from fakes import fake_llm
from ragloop.answer.normalize import answer_key
from ragloop.answer.strategies import STRATEGIES, build_strategy
from ragloop.answer.strategies.cot import extract_final
from ragloop.answer.strategies.vote import decided
from ragloop.answer.verify import GroundingVerifier
from ragloop.config import AnswerSettings
from ragloop.errors import ConfigError
from ragloop.records import AnswerRequest, Budget

Q = "Which port does the server listen on?"


def reply(answer, sources=(1,)):
    return json.dumps({"answer": answer, "sources": list(sources)})


def by_seed(answers):
    """A fake responder answering ``answers[seed - 1]`` (samples use seeds 1..k)."""
    return lambda messages, params, schema: reply(answers[(params.seed - 1) % len(answers)])


def test_every_strategy_is_registered_and_unknown_is_a_config_error():
    assert set(STRATEGIES) == {"direct", "cot", "vote", "best_of_n", "decompose", "refine",
                               "extract"}
    try:
        build_strategy("magic", AnswerSettings())
    except ConfigError as err:
        assert "magic" in str(err)
    else:
        raise AssertionError("no error")


def test_answer_key_normalises():
    assert answer_key("Yes, it does [1].") == "yes"
    assert answer_key("The total is 1,200 apples.") == answer_key("1200 [2]")
    assert answer_key("The documents do not say.") == "<refused>"


def test_vote_counts_and_stops_early_once_decided():
    llm = fake_llm(by_seed(["Port 8765.", "Port 8765.", "Port 8765.", "Port 80.", "Port 80."]))
    vote = build_strategy("vote", AnswerSettings(samples=5), retriever=FakeRetriever(), llm=llm)
    answer = vote.run(AnswerRequest(question=Q))
    assert answer.metadata["samples"] == 3 and answer.metadata["stopped"].startswith("early")
    assert answer.metadata["votes"] == {"#8765": 3}
    assert answer.confidence == 1.0 and len(answer.calls) == 3
    temps = {p.temperature for _, p, _ in llm.backend.calls}
    seeds = [p.seed for _, p, _ in llm.backend.calls]
    assert temps == {0.7} and seeds == [1, 2, 3]


def test_vote_agreement_is_confidence():
    llm = fake_llm(by_seed(["8765", "80", "8765", "80", "8765"]))
    vote = build_strategy("vote", AnswerSettings(samples=5), retriever=FakeRetriever(), llm=llm)
    answer = vote.run(AnswerRequest(question=Q))
    assert answer.metadata["votes"] == {"#8765": 3, "#80": 2}
    assert answer.confidence == 0.6 and "8765" in answer.text
    assert not decided(__import__("collections").Counter({"a": 2, "b": 1}), 1)


def test_vote_respects_a_token_budget():
    llm = fake_llm(by_seed(["a b", "c d", "e f", "g h", "i j"]))
    settings = AnswerSettings(samples=5)
    one = build_strategy("vote", settings, retriever=FakeRetriever(), llm=llm).run(
        AnswerRequest(question=Q)).calls[0]
    per_call = one.prompt_tokens + one.completion_tokens
    llm2 = fake_llm(by_seed(["a b", "c d", "e f", "g h", "i j"]))
    answer = build_strategy("vote", settings, retriever=FakeRetriever(), llm=llm2).run(
        AnswerRequest(question=Q, budget=Budget(max_tokens=int(per_call * 2.5))))
    assert answer.metadata["stopped"] == "budget" and len(answer.calls) == 2


def test_best_of_n_picks_the_verified_sample():
    # sample 1 (greedy, seed 0) is unsupported, sample 2 (seed 1) is grounded in chunk 1
    llm = fake_llm(lambda m, params, s: reply(
        "The server listens on port 8765." if params.seed == 1 else "Bananas are yellow."))
    best = build_strategy("best_of_n", AnswerSettings(samples=3), retriever=FakeRetriever(),
                          llm=llm)
    answer = best.run(AnswerRequest(question=Q))
    assert "8765" in answer.text and answer.metadata["scores"][0] < answer.confidence
    assert answer.metadata["stopped"].startswith("early")


def test_refine_runs_only_when_the_check_fails():
    good = fake_llm(reply("The server listens on port 8765."))
    answer = build_strategy("refine", AnswerSettings(), retriever=FakeRetriever(), llm=good).run(
        AnswerRequest(question=Q))
    assert answer.metadata["rounds"] == 0 and len(answer.calls) == 1

    def fix_on_feedback(messages, params, schema):
        if "A check found a problem" in messages[-1].content:
            return reply("The server listens on port 8765.")
        return reply("Bananas are yellow.", sources=[])

    llm = fake_llm(fix_on_feedback)
    answer = build_strategy("refine", AnswerSettings(), retriever=FakeRetriever(), llm=llm).run(
        AnswerRequest(question=Q))
    assert answer.metadata["rounds"] == 1 and "8765" in answer.text
    assert "cites nothing" in answer.metadata["checks"][0]["reason"]


def test_grounding_verifier():
    cands = FakeRetriever().search(Q, 5)
    v = GroundingVerifier()
    assert v.check(Q, "The server listens on port 8765 [1].", cands).passed
    assert not v.check(Q, "The server listens on port 8765.", cands).passed
    assert not v.check(Q, "Bananas grow on trees [1].", cands).passed


def test_cot_extracts_the_final_answer():
    assert extract_final("First... then.\nAnswer: 42 [1]") == ("First... then.", "42 [1]")
    llm = fake_llm(json.dumps({"reasoning": "Doc 1 says 8765.", "answer": "8765",
                               "sources": [1]}))
    answer = build_strategy("cot", AnswerSettings(), retriever=FakeRetriever(), llm=llm).run(
        AnswerRequest(question=Q))
    assert answer.text == "8765 [1]" and answer.metadata["reasoning"] == "Doc 1 says 8765."
    assert "reasoning" in llm.backend.calls[0][2]["properties"]


def test_decompose_retrieves_per_sub_question():
    def respond(messages, params, schema):
        if "sub_questions" in schema["properties"]:
            return json.dumps({"sub_questions": ["Where are chunks stored?",
                                                 "How long are chunks?"]})
        return reply("SQLite, 256 tokens.", sources=[1, 2])

    retriever = FakeRetriever()
    llm = fake_llm(respond)
    answer = build_strategy("decompose", AnswerSettings(), retriever=retriever, llm=llm).run(
        AnswerRequest(question="Where are chunks stored and how long are they?"))
    assert retriever.queries[1:] == ["Where are chunks stored?", "How long are chunks?"]
    assert [c.purpose for c in answer.calls] == ["decompose", "sub-answer", "sub-answer",
                                                 "compose"]
    assert len(answer.metadata["sub_questions"]) == 2 and answer.citations
