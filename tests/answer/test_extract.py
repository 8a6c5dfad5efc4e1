"""The extract strategy and the router's grounded floor. Orchestration runs on a fake
retriever, a fake embedder and a fake LLM (named as such); the real-model tests at the end
use the real embedder and the real embedded LLM."""

from __future__ import annotations

import json

import pytest
from answer_fakes import FakeRetriever, ask, make_chunks
from typer.testing import CliRunner

from fakes import FakeEmbedder, fake_llm
from ragloop.answer.strategies.extract import focus_term, split_sentences
from ragloop.answer.verify import GroundingVerifier
from ragloop.cli import app
from ragloop.config import AnswerSettings
from ragloop.pipeline import Pipeline
from ragloop.records import Budget

SERVING = ("The embedded model is not re-entrant, so requests wait in a bounded queue. "
           "When the queue is full the server answers 503 with a Retry-After header instead "
           "of hanging. Another page lists recent traces.")
BACKENDS = ("The `llamacpp` backend runs a GGUF model in-process. The `openai` backend talks "
            "to any OpenAI-compatible server, such as vLLM, Ollama or OpenAI itself. Set "
            "`backend = \"openai\"`, `base_url` and `model` in the `[llm]` section. Timeouts "
            "are retried with exponential backoff.")
FORMATS = ("ragloop reads Markdown (`.md`), plain text (`.txt`), PDF (`.pdf`, e.g. scanned "
           "reports) and Word documents. Folders are walked with glob patterns.")
TEXTS = (SERVING, BACKENDS, FORMATS, "Chunks are stored in SQLite with an FTS5 table.")


def retriever():
    return FakeRetriever(make_chunks(TEXTS))


def reply(answer, sources=(1,)):
    return json.dumps({"answer": answer, "sources": list(sources)})


def test_sentences_split_at_ends_not_at_extensions_abbreviations_or_headings():
    text = ("# Formats\n\nragloop reads `.md` and 3.5 pages, e.g. PDF files. Then it stops.\n"
            "- A list item here")
    pieces = [text[a:b] for a, b in split_sentences(text)]
    assert pieces == ["ragloop reads `.md` and 3.5 pages, e.g. PDF files.", "Then it stops.",
                      "- A list item here"]


def test_focus_is_the_noun_between_which_and_the_verb():
    assert focus_term("Which file formats can ragloop ingest?") == "format"
    assert focus_term("What does the vote strategy do?") == "strategi"
    assert focus_term("How does fusion work?") is None


def test_extract_answers_with_a_verbatim_sentence_exact_citation_and_no_model_call():
    llm = fake_llm("never called")
    answer = ask("What does the server do when its request queue is full?",
                 settings=AnswerSettings(), retriever=retriever(), llm=llm,
                 strategy="extract", embedder=FakeEmbedder())
    assert answer.strategy == "extract" and not answer.refused and answer.calls == ()
    assert llm.backend.calls == []
    sentence = ("When the queue is full the server answers 503 with a Retry-After header "
                "instead of hanging.")
    assert answer.text == sentence[:-1] + " [1]."
    (citation,) = answer.citations
    assert citation.quote == sentence and citation.chunk_id == "c0"
    span = answer.metadata["sentences"][0]
    assert SERVING[span["start"]:span["end"]] == sentence
    assert set(span["signals"]) >= {"bm25", "terms", "dense"}
    assert GroundingVerifier().check(answer.question, answer.text, answer.candidates).score == 1


def test_a_quoted_sentence_that_holds_marker_like_text_cites_only_its_own_chunk():
    # documentation about citations says "[2]" in its own words; quoted, it is no citation
    texts = ("Answers cite the chunks they use, as in: tides follow the Moon [2].",
             "Chunks are stored in SQLite with an FTS5 table.")
    answer = ask("How do answers cite the chunks they use?", settings=AnswerSettings(),
                 retriever=FakeRetriever(make_chunks(texts)), llm=fake_llm("never called"),
                 strategy="extract", embedder=FakeEmbedder())
    assert [c.marker for c in answer.citations] == [1]
    assert answer.text.endswith("tides follow the Moon [1].")
    assert answer.citations[0].quote == texts[0]
    assert GroundingVerifier().check(answer.question, answer.text, answer.candidates).score == 1


def test_a_follow_up_quotes_what_its_own_words_ask_not_what_the_carried_terms_match():
    from ragloop.records import QueryPart, SearchQuery

    texts = ("The bm25 retriever scores chunks with BM25, a lexical ranking function based on "
             "term frequency and inverse document frequency. The dense retriever compares the "
             "embedding of the query with the embeddings of the chunks.",)
    # the follow-up at weight 1; the earlier turn's terms, as `carry` condenses them, lower
    query = SearchQuery(parts=(QueryPart(text="What about the dense one?"),
                               QueryPart(text="bm25 score frequency chunks ranking inverse "
                                              "lexical", weight=0.4)))
    answer = ask("What about the dense one?", settings=AnswerSettings(),
                 retriever=FakeRetriever(make_chunks(texts)), llm=fake_llm("never called"),
                 strategy="extract", embedder=FakeEmbedder(), search_query=query)
    assert answer.text.startswith("The dense retriever compares"), answer.text
    alone_terms = ask("What about the dense one? bm25 score frequency chunks ranking inverse "
                      "lexical", settings=AnswerSettings(),
                      retriever=FakeRetriever(make_chunks(texts)), llm=fake_llm(),
                      strategy="extract", embedder=FakeEmbedder())
    assert alone_terms.text.startswith("The bm25 retriever")  # the same words as one text


def test_extract_adds_the_next_sentence_for_a_how_do_i_question():
    answer = ask("How do I use a model served by vLLM or Ollama?",
                 settings=AnswerSettings(), retriever=retriever(), llm=fake_llm(),
                 strategy="extract", embedder=FakeEmbedder())
    assert "vLLM, Ollama" in answer.text and "Set `backend = \"openai\"`" in answer.text
    assert [c.marker for c in answer.citations] == [1]
    assert "Timeouts" not in answer.text


def test_extract_picks_the_sentence_holding_the_focus_noun_without_an_embedder():
    answer = ask("Which file formats can ragloop read?", settings=AnswerSettings(),
                 retriever=retriever(), llm=fake_llm(), strategy="extract")
    assert answer.text.startswith("ragloop reads Markdown")
    assert answer.metadata["signals_used"] == ["bm25", "focus", "terms"]


def test_extract_refuses_when_no_sentence_matches():
    answer = ask("Quantum chromodynamics lattice?", settings=AnswerSettings(),
                 retriever=retriever(), llm=fake_llm(), strategy="extract")
    assert answer.refused and answer.metadata["refusal_reason"] == \
        "no sentence matches the question"


QUEUE = "What does the server do when its request queue is full?"


def route_with_fake_llm(text, question=QUEUE, budget=Budget(), **settings):
    llm = fake_llm(text)
    answer = ask(question, settings=AnswerSettings(**settings), retriever=retriever(), llm=llm,
                 embedder=FakeEmbedder(), mode="auto", budget=budget)
    return answer, answer.metadata["router"], llm


def test_router_floor_replaces_an_ungrounded_generated_answer():
    answer, route, _ = route_with_fake_llm(
        reply("The server does not respond to requests until the end of a request queue."))
    assert answer.strategy == "extract" and route["floor"]
    assert route["reason"] == "the generated answer failed the grounding check"
    assert "503" in answer.text and route["generated"].startswith("The server does not")
    assert [c.purpose for c in answer.calls] == ["answer"]  # the generation's cost is kept


def test_router_floor_replaces_a_refusal():
    answer, route, _ = route_with_fake_llm(reply("The documents do not say.", ()))
    assert answer.strategy == "extract" and not answer.refused
    assert route["reason"] == "the generator refused"


def test_router_floor_replaces_a_grounded_answer_that_misses_the_question():
    # every word is in chunk 1, but it says nothing about a full queue
    answer, route, _ = route_with_fake_llm(reply("The embedded model is not re-entrant."))
    assert route["floor_checks"]["grounding"] == 1.0
    assert route["reason"] == "the generated answer is less relevant than the extracted one"
    assert answer.strategy == "extract" and "503" in answer.text


def test_router_keeps_a_grounded_relevant_generated_answer():
    answer, route, _ = route_with_fake_llm(
        reply("When the queue is full the server answers 503 instead of hanging."))
    assert answer.strategy == "direct" and not route["floor"]
    assert route["floor_checks"]["relevance"] >= route["floor_checks"]["extract_relevance"] - 0.1


def test_router_extracts_without_calling_the_model_when_the_budget_is_tight():
    answer, route, llm = route_with_fake_llm(reply("anything"), budget=Budget(max_tokens=20))
    assert answer.strategy == "extract" and route["reason"].startswith("budget: a generation")
    assert llm.backend.calls == [] and "503" in answer.text


def test_router_never_floors_a_computed_arithmetic_answer():
    answer, route, _ = route_with_fake_llm(
        reply("7"), question="Tom has 3 apples and buys 4 more. How many in total?",
        samples=2)
    assert route["reason"] == "arithmetic" and answer.strategy == "vote"
    assert "floor_checks" not in route


def test_ask_strategy_extract_through_the_cli(project, monkeypatch):
    llm = fake_llm("never called")
    monkeypatch.setattr(Pipeline, "retriever", property(lambda self: retriever()))
    monkeypatch.setattr(Pipeline, "llm", property(lambda self: llm))
    monkeypatch.setattr(Pipeline, "embedder", property(lambda self: FakeEmbedder()))
    result = CliRunner().invoke(app, ["-p", str(project.root), "ask", QUEUE,
                                      "--strategy", "extract", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["strategy"] == "extract" and "503" in data["text"]
    assert data["citations"][0]["quote"].startswith("When the queue is full")
    assert llm.backend.calls == []


# ----------------------------------------------------------------------------- real models


@pytest.mark.real_model
def test_extract_and_router_on_the_real_embedder_and_llm(real_llm, real_embedder):
    from ragloop.demo import demo_corpus_dir
    from ragloop.records import Chunk

    chunks = [Chunk(id=f"c{i}", doc_id=path.name, ordinal=i, text=part.strip(),
                    header=path.stem, metadata={"source": path.name})
              for i, (path, part) in enumerate(
                  (p, s) for p in sorted(demo_corpus_dir().glob("*.md"))
                  for s in p.read_text().split("\n## ") if s.strip())]
    demo = FakeRetriever(chunks)
    settings = AnswerSettings()
    extracted = ask(QUEUE, settings=settings, retriever=demo, llm=real_llm,
                    strategy="extract", embedder=real_embedder)
    assert "503 with a Retry-After header" in extracted.text and extracted.calls == ()
    assert extracted.citations[0].doc_id == "serving.md"
    routed = ask(QUEUE, settings=settings, retriever=demo, llm=real_llm,
                 mode="auto", embedder=real_embedder)
    route = routed.metadata["router"]
    assert routed.calls and routed.calls[0].purpose == "answer"  # the real model was asked
    assert routed.strategy in ("direct", "extract")
    assert route["floor"] == (routed.strategy == "extract")
    # whatever the router picked passes the grounding check and cites the serving docs
    verdict = GroundingVerifier().check(QUEUE, routed.text, routed.candidates)
    assert verdict.passed and any(c.doc_id == "serving.md" for c in routed.citations)
