"""One answer path: the answer instruction kept apart from the retrieved question, every LLM
call tallied by the client (failed ones too), and streaming as a mode of the same generation,
cache included (issue 15.4). Fake LLM backends here, named as such; the real model streams
through the cache in test_real_model.py."""

from __future__ import annotations

import itertools
import json
import time

from answer_fakes import FakeRetriever, ask, stream

from fakes import FakeLLMBackend, fake_llm
from ragloop.config import AnswerSettings
from ragloop.models.cache import DiskCache
from ragloop.models.llm import LLMClient, recorded_calls
from ragloop.records import AnswerEvent

Q = "Which port does the server listen on?"
LABELS = "Answer with one word first: yes, no."


def reply(answer, sources=(1,)):
    return json.dumps({"answer": answer, "sources": list(sources)})


def _varying_backend():
    """A fake whose every call that reaches it (``.reached``) answers differently, so a
    cache hit is visible."""
    counter = itertools.count(1)
    backend = FakeLLMBackend(lambda messages, params, schema: reply(
        f"Port 876{backend.reached.append(1) or next(counter)}."))
    backend.reached = []
    return backend


def test_the_instruction_shapes_the_prompt_but_not_retrieval():
    retriever = FakeRetriever()
    llm = fake_llm(reply("Yes, 8765."))
    for mode in ("fast", "slow", "auto"):
        retriever.queries.clear()
        answer = ask(Q, settings=AnswerSettings(samples=2), retriever=retriever,
                     llm=llm, mode=mode, instruction=LABELS)
        assert retriever.queries and all(q == Q for q in retriever.queries), mode
        assert answer.question == Q and answer.metadata["instruction"] == LABELS
    prompt = llm.backend.calls[-1][0][-1].content
    assert f"Question: {Q} {LABELS}" in prompt


def test_a_failed_schema_call_in_decompose_is_counted():
    def respond(messages, params, schema):
        if "sub_questions" in schema["properties"]:
            return "I cannot split this."  # not JSON: the schema call fails
        return reply("8765.")

    answer = ask(Q, settings=AnswerSettings(), retriever=FakeRetriever(),
                 llm=fake_llm(respond), strategy="decompose")
    assert [(c.purpose, c.failed) for c in answer.calls] == [("decompose", True),
                                                             ("compose", False)]
    assert answer.calls[0].completion_tokens > 0  # its tokens count against the budget


def test_every_client_call_lands_in_every_open_tally():
    llm = fake_llm("plain")
    with recorded_calls() as outer:
        llm.complete([{"role": "user", "content": "hi"}], purpose="first")
        with recorded_calls() as inner:
            llm.complete([{"role": "user", "content": "again"}], purpose="second")
    llm.complete([{"role": "user", "content": "outside"}])
    assert [c.purpose for c in outer] == ["first", "second"]
    assert [c.purpose for c in inner] == ["second"]


def test_streamed_answers_use_the_llm_cache(tmp_path):
    backend = _varying_backend()
    llm = LLMClient(backend, DiskCache(tmp_path / "llm.sqlite", table="completions"))

    def streamed():
        events = list(stream(Q, settings=AnswerSettings(mode="fast"), retriever=FakeRetriever(),
                             llm=llm))
        assert all(isinstance(e, AnswerEvent) for e in events)
        return "".join(e.text for e in events if e.kind == "delta"), events[-1].answer

    shown_1, first = streamed()
    shown_2, second = streamed()
    assert len(backend.reached) == 1  # the second question never reached the model
    assert second.text == first.text == "Port 8761 [1]." and shown_2 == shown_1
    assert [c.cached for c in first.calls] == [False]
    assert [c.cached for c in second.calls] == [True]
    # and the whole answer path shares that cache: ask gives the streamed answer back
    asked = ask(Q, settings=AnswerSettings(mode="fast"), retriever=FakeRetriever(), llm=llm)
    assert asked.text == first.text and asked.calls[0].cached and len(backend.reached) == 1


def test_stream_and_ask_record_the_same_calls():
    settings = AnswerSettings()
    asked = ask(Q, settings=settings, retriever=FakeRetriever(),
                llm=fake_llm(reply("8765.")))
    events = list(stream(Q, settings=settings, retriever=FakeRetriever(),
                         llm=fake_llm(reply("8765."))))
    final = events[-1].answer
    assert final.text == asked.text and final.citations == asked.citations
    assert [c.purpose for c in final.calls] == [c.purpose for c in asked.calls] == ["answer"]


def test_closing_a_stream_early_stops_the_model():
    pieces = [f"word{i} " for i in range(200)]
    produced = []

    class SlowStream(FakeLLMBackend):
        def stream(self, messages, params, schema=None):
            for piece in pieces:
                produced.append(piece)
                time.sleep(0.01)  # a model writes slower than a reader reads
                yield piece

    llm = LLMClient(SlowStream("unused"))
    events = stream(Q, settings=AnswerSettings(citation_style="inline"),
                    retriever=FakeRetriever(), llm=llm)
    first = next(events)
    assert first.kind == "delta"
    events.close()  # the reader left: the answering thread is joined before this returns
    assert len(produced) < len(pieces)


def test_a_failing_stream_raises_to_the_reader():
    class Broken(FakeLLMBackend):
        def stream(self, messages, params, schema=None):
            yield "partial "
            raise RuntimeError("model crashed")

    events = stream(Q, settings=AnswerSettings(mode="fast", citation_style="inline"),
                    retriever=FakeRetriever(), llm=LLMClient(Broken("unused")))
    assert next(events).text == "partial "
    try:
        list(events)
    except RuntimeError as err:
        assert "model crashed" in str(err)
    else:
        raise AssertionError("the failure was swallowed")


def test_a_cached_schema_failure_streams_the_same_text_again(tmp_path):
    backend = FakeLLMBackend('{"answer": "Port 8765 is the def')  # cut at max_tokens
    llm = LLMClient(backend, DiskCache(tmp_path / "llm.sqlite", table="completions"))
    runs = [list(stream(Q, settings=AnswerSettings(mode="fast"), retriever=FakeRetriever(),
                        llm=llm)) for _ in range(2)]
    shown = ["".join(e.text for e in events if e.kind == "delta") for events in runs]
    finals = [events[-1].answer for events in runs]
    assert shown[0] == shown[1] and shown[0].startswith("Port 8765")
    assert [c.cached for f in finals for c in f.calls] == [False, True]
    assert all(c.failed for f in finals for c in f.calls)
    assert finals[0].text == finals[1].text and "schema_error" in finals[1].metadata
