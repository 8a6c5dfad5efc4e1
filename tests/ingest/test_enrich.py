"""Enrichment: question filtering, context cleaning, and the document cut to the window."""

from __future__ import annotations

import json

from fakes import FakeLLMBackend
from ragloop.ingest.enrich import Enricher, clean_context, filter_questions, questions_schema
from ragloop.models.llm import LLMClient
from ragloop.records import Chunk, Document

CHUNK_TEXT = "The Eiffel Tower was completed in 1889 for the World's Fair in Paris."


def test_filter_questions_drops_each_bad_kind():
    kept, dropped = filter_questions([
        "When was the Eiffel Tower completed?",
        "when was the eiffel tower completed ?",  # duplicate once normalised
        "",  # empty
        "The tower is in Paris.",  # not a question
        "Why?",  # too short to be a question
        "The Eiffel Tower was completed in 1889?",  # copied from the chunk
        "For which event was the tower built?",
        42,  # not even a string
    ], CHUNK_TEXT)
    assert kept == ["When was the Eiffel Tower completed?", "For which event was the tower built?"]
    assert dropped == {"empty": 2, "not_question": 2, "duplicate": 1, "copied": 1}


def test_clean_context_keeps_two_sentences():
    assert clean_context("Context: One.  Two!\nThree.") == "One. Two!"


def test_questions_schema_bounds_the_output():
    schema = questions_schema(3)
    items = schema["properties"]["questions"]
    assert items["maxItems"] == 3 and items["items"]["maxLength"] > 0


def _doc(words: int) -> tuple[Document, Chunk]:
    text = " ".join(f"word{i}" for i in range(words)) + " " + CHUNK_TEXT
    doc = Document(id="d", source="d.txt", title="Doc", text=text, content_hash="h")
    start = text.index(CHUNK_TEXT)
    chunk = Chunk(id="d#9", doc_id="d", ordinal=9, text=CHUNK_TEXT, start=start,
                  end=start + len(CHUNK_TEXT))
    return doc, chunk


def test_long_document_is_cut_to_the_context_window_around_the_chunk():
    backend = FakeLLMBackend("It describes the tower. It is from a long list.",
                             context_window=400)
    enricher = Enricher(LLMClient(backend), contextual=True, questions_per_chunk=0)
    doc, chunk = _doc(5000)
    assert enricher.context(doc, chunk) == "It describes the tower. It is from a long list."
    (messages, params, _), = backend.calls
    prompt_tokens = sum(backend.count_tokens(m.content) for m in messages)
    assert prompt_tokens + params.max_tokens <= 400
    user = messages[-1].content
    assert "word0 " in user and "[...]" in user and user.count(CHUNK_TEXT) == 2
    assert "word2500 " not in user


def test_questions_are_parsed_filtered_and_point_to_their_chunk():
    backend = FakeLLMBackend(json.dumps({"questions": [
        "When was the Eiffel Tower completed?", "Not a question.",
        "When was the Eiffel Tower completed?"]}))
    enricher = Enricher(LLMClient(backend), contextual=False, questions_per_chunk=3)
    doc, chunk = _doc(10)
    questions = enricher.questions(doc, chunk)
    assert [(q.id, q.chunk_id, q.doc_id, q.text) for q in questions] == [
        ("d#9#q0", "d#9", "d", "When was the Eiffel Tower completed?")]
    assert enricher.stats.dropped["not_question"] == 1
    assert enricher.stats.dropped["duplicate"] == 1
    assert backend.calls[0][2] == questions_schema(3)


def test_model_failure_loses_only_that_enrichment():
    enricher = Enricher(LLMClient(FakeLLMBackend("this is not json")), contextual=False,
                        questions_per_chunk=2)
    doc, chunk = _doc(10)
    assert enricher.questions(doc, chunk) == []
    assert "no questions" in enricher.stats.warnings[0]
