"""Chunkers: sizes in the embedder's tokens, the hard limit with header and context, structure
boundaries, overlap, and semantic breakpoints."""

from __future__ import annotations

import pytest

from fakes import FakeEmbedder
from ragloop.config import IngestSettings
from ragloop.ingest.chunk import ChunkBuilder, fit_tokens
from ragloop.ingest.chunkers import CHUNKERS
from ragloop.ingest.loaders.base import DocumentBuilder
from ragloop.records import Document


def sentences(topic: str, n: int) -> str:
    return " ".join(f"Sentence {i} is about {topic} and its many details." for i in range(n))


def make_doc(sections: list[tuple[int, str, str]], title: str = "Handbook") -> Document:
    builder = DocumentBuilder()
    for level, heading, body in sections:
        builder.heading(level, heading)
        builder.paragraph(body)
    return builder.build(doc_id="doc", source="doc.md", title=title, mtime=None, metadata={})


DOC = make_doc([(1, "Handbook", sentences("cats", 12)), (2, "Dogs", sentences("dogs", 30)),
                (3, "Breeds", sentences("breeds", 5)), (2, "Fish", sentences("fish", 3))])


class SmallEmbedder(FakeEmbedder):
    max_tokens = 64


def test_every_strategy_is_registered():
    assert set(CHUNKERS) == {"fixed", "recursive", "structure", "semantic"}


@pytest.mark.parametrize("chunker", ["fixed", "recursive", "structure", "semantic"])
def test_chunks_never_exceed_the_embedder_limit(chunker):
    embedder = SmallEmbedder()
    settings = IngestSettings(chunker=chunker, chunk_tokens=200, overlap_tokens=10,
                              semantic_threshold=0.3)
    builder = ChunkBuilder(settings, embedder, contextual=True)
    chunks = builder.chunks(DOC)
    assert chunks and all(c.doc_id == "doc" and c.text == DOC.text[c.start:c.end]
                          for c in chunks)
    long_context = "This context sentence is far too long for the room left. " * 20
    enriched = builder.measured([builder.with_context(c, long_context) for c in chunks])
    limit = embedder.max_tokens - 2
    assert max(c.n_tokens for c in enriched) <= limit
    assert all(c.context and c.context in c.dense_text for c in enriched)  # cut, not dropped
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_structure_chunks_never_cross_a_heading_and_carry_the_path():
    builder = ChunkBuilder(IngestSettings(chunker="structure", chunk_tokens=40), FakeEmbedder(),
                           contextual=False)
    chunks = builder.chunks(DOC)
    heading_starts = [s.start for s in DOC.sections]
    for chunk in chunks:
        assert not any(chunk.start < h < chunk.end for h in heading_starts)
    breeds = [c for c in chunks if "breeds" in c.text]
    assert breeds and all(c.section_path == ("Handbook", "Dogs", "Breeds") for c in breeds)
    assert breeds[0].header == "Handbook > Dogs > Breeds"
    assert breeds[0].dense_text.startswith("Handbook > Dogs > Breeds\n")
    fish = [c for c in chunks if "fish" in c.text]
    assert fish[0].section_path == ("Handbook", "Fish")


def test_fixed_windows_overlap_by_the_configured_tokens():
    doc = make_doc([(1, "T", " ".join(f"w{i}" for i in range(100)))])
    builder = ChunkBuilder(IngestSettings(chunker="fixed", chunk_tokens=20, overlap_tokens=5,
                                          dense_fields=("text",)), FakeEmbedder(),
                           contextual=False)
    chunks = builder.measured(builder.chunks(doc))
    assert all(c.n_tokens <= 20 for c in chunks)
    first, second = chunks[0].text.split(), chunks[1].text.split()
    assert first[-5:] == second[:5]


def test_recursive_keeps_sentences_whole():
    doc = make_doc([(1, "T", sentences("owls", 20))])
    doc = doc.model_copy(update={"text": doc.text[3:], "sections": ()})  # no heading line
    builder = ChunkBuilder(IngestSettings(chunker="recursive", chunk_tokens=30,
                                          overlap_tokens=0), FakeEmbedder(), contextual=False)
    chunks = builder.chunks(doc)
    assert len(chunks) > 3
    assert all(c.text.endswith(".") and c.text.startswith("Sentence") for c in chunks)


def test_semantic_breaks_where_the_topic_changes():
    body = sentences("cats", 4) + " " + " ".join(
        f"Quantum {i} entanglement photons qubits decoherence." for i in range(4))
    doc = make_doc([(1, "T", body)])
    builder = ChunkBuilder(IngestSettings(chunker="semantic", chunk_tokens=500,
                                          semantic_threshold=0.3), FakeEmbedder(),
                           contextual=False)
    texts = [c.text for c in builder.chunks(doc)]
    assert any("cats" in t and "Quantum" not in t for t in texts)
    assert any("Quantum" in t and "cats" not in t for t in texts)


def test_lexical_and_dense_fields_are_configurable_and_recorded():
    settings = IngestSettings(dense_fields=("text",), lexical_fields=("header", "text"))
    builder = ChunkBuilder(settings, FakeEmbedder(), contextual=False)
    chunk = builder.chunks(DOC)[0]
    assert chunk.dense_text == chunk.text
    assert chunk.lexical_text == f"{chunk.header}\n{chunk.text}"
    assert chunk.metadata["dense_fields"] == ["text"]
    assert chunk.metadata["lexical_fields"] == ["header", "text"]


def test_fit_tokens_cuts_at_words():
    assert fit_tokens("a b c d e", 3, lambda t: len(t.split())) == "a b c"
    assert fit_tokens("a b", 3, lambda t: len(t.split())) == "a b"


@pytest.mark.real_model
def test_real_tokenizer_limit_holds_for_a_long_unbroken_text(real_embedder):
    text = "Pneumonoultramicroscopicsilicovolcanoconiosis " * 60 + "x" * 3000
    doc = make_doc([(1, "A title " * 30, text)])
    builder = ChunkBuilder(IngestSettings(chunker="structure"), real_embedder, contextual=True)
    chunks = builder.measured([builder.with_context(c, "Context words here. " * 40)
                               for c in builder.chunks(doc)])
    real = real_embedder.count_tokens_batch([c.dense_text for c in chunks])
    assert real == [c.n_tokens for c in chunks]
    assert max(real) <= real_embedder.max_tokens - 2


@pytest.mark.real_model
def test_real_semantic_breakpoint_between_topics(real_embedder):
    cats = ("Cats groom their fur with rough tongues. A cat purrs when it is content. "
            "Kittens learn to hunt by watching their mother.")
    tax = ("The tax return must be filed by April. Deductions lower the taxable income. "
           "Late filing of the return incurs a penalty.")
    doc = make_doc([(1, "Notes", f"{cats} {tax}")])
    builder = ChunkBuilder(IngestSettings(chunker="semantic", semantic_threshold=0.2),
                           real_embedder, contextual=False)
    texts = [c.text for c in builder.chunks(doc)]
    assert not any("purrs" in t and "taxable" in t for t in texts)
    assert "".join(texts).replace(" ", "") == f"{cats}{tax}".replace(" ", "")
    assert len(texts) <= 4  # breaks where the topic changes, not after every sentence
