"""Retrievers over a real embedded store with the fake embedder (orchestration), plus one
real-model test (MiniLM + the tiny LLM reranker)."""

from __future__ import annotations

import json

import pytest

from fakes import FakeEmbedder, fake_llm
from index.test_store_contract import make_doc, put
from ragloop.config import RetrieveSettings
from ragloop.index.embedded import open_store
from ragloop.index.store import Filters
from ragloop.records import Chunk, Document, content_hash
from ragloop.retrieve.base import Retriever
from ragloop.retrieve.build import build_retriever
from ragloop.retrieve.filters import FilterError, parse_filters
from ragloop.retrieve.rerank import RerankingRetriever
from ragloop.retrieve.rerank_llm import LLMReranker

DOCS = [
    make_doc("cats", ["cats purr and sleep on warm sofas", "a kitten drinks milk"],
             metadata={"team": "pets"}, questions={1: ["what does a young cat drink"]}),
    make_doc("rust", ["the rust compiler checks borrowing", "cargo builds rust crates"],
             source="code/rust.md", metadata={"team": "dev"},
             questions={0: ["what verifies ownership rules"]}),
    make_doc("bread", ["bread needs flour water and yeast"], metadata={"team": "food"}),
]


@pytest.fixture
def store(tmp_path):
    store = open_store(tmp_path / "index")
    put(store, *DOCS)
    yield store
    store.close()


ALL = ("bm25", "dense", "questions_bm25", "questions_dense")


def retriever(store, **kwargs):
    return build_retriever(RetrieveSettings(**kwargs), store, FakeEmbedder(), None)


@pytest.mark.parametrize("name", ALL)
def test_each_retriever_works_alone(store, name):
    r = retriever(store, retrievers=(name,))
    assert isinstance(r, Retriever)
    query = {"bm25": "kitten milk", "dense": "a kitten drinks milk",
             "questions_bm25": "what does a young cat drink",
             "questions_dense": "what does a young cat drink"}[name]
    found = r.search(query, 2)
    assert found[0].chunk.id == "cats#1"
    assert found[0].ranks[name] == 1 and name in found[0].scores
    if name.startswith("questions"):
        assert found[0].matched_question == "what does a young cat drink"
        assert len({c.chunk.id for c in found}) == len(found)


def test_fusion_keeps_every_signal_and_fused_rank(store):
    hybrid = retriever(store, retrievers=("bm25", "dense"), fusion="rrf")
    found = hybrid.search("rust crates cargo", 3)
    top = found[0]
    assert top.chunk.id == "rust#1"
    assert top.ranks["fused"] == 1 and top.ranks["bm25"] == 1 and "dense" in top.ranks
    scores = [c.score for c in found]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("fusion", ["rrf", "convex"])
@pytest.mark.parametrize("filters, allowed", [
    (Filters(fields={"team": "pets"}), {"cats"}),
    (Filters(path_glob="code/*"), {"rust"}),
    (Filters(sources=("docs/bread.md", "docs/cats.md")), {"bread", "cats"}),
])
def test_filters_reach_every_retriever(store, fusion, filters, allowed):
    r = retriever(store, retrievers=ALL, fusion=fusion)
    found = r.search("cats rust bread kitten crates flour what", 10, filters)
    assert found and {c.chunk.doc_id for c in found} <= allowed
    for signal in r.retrievers:
        assert {h.chunk_id.split("#")[0] for h in signal.hits("cats rust bread what", 10,
                                                              filters)} <= allowed


def test_llm_reranker_reorders_and_survives_failures(store):
    def grade(messages, params, schema):
        passage = messages[-1].content.split("Passage:")[1]
        if "bread" in passage:
            return "not json at all"
        return json.dumps({"relevance": 3 if "sofas" in passage else 0})

    first = retriever(store, retrievers=("bm25",))
    reranker = LLMReranker(fake_llm(grade))
    reranked = RerankingRetriever(first, reranker, depth=5)
    found = reranked.search("cats kitten bread sofas warm", 5)
    assert found[0].chunk.id == "cats#0" and found[0].scores["rerank"] == 3.0
    assert reranker.failures == 1
    bread = next(c for c in found if c.chunk.doc_id == "bread")
    assert "rerank" not in bread.scores and "rerank" in bread.ranks


def test_build_retriever_wires_rerank_from_settings(store):
    r = build_retriever(RetrieveSettings(rerank="llm", rerank_depth=3), store, FakeEmbedder(),
                        fake_llm(json.dumps({"relevance": 1})))
    assert isinstance(r, RerankingRetriever)
    assert len(r.search("cats", 2)) == 2
    with pytest.raises(Exception, match="cross_encoder_path"):
        build_retriever(RetrieveSettings(rerank="cross-encoder"), store, FakeEmbedder(), None)


def test_parse_filters():
    f = parse_filters(["source=a.md", "source=b.md", "path=docs/*", "after=2024-01-01",
                       "before=1800000000", "year=2024", "lang=en"])
    assert f.sources == ("a.md", "b.md") and f.path_glob == "docs/*"
    assert f.modified_after == 1704067200.0 and f.modified_before == 1800000000.0
    assert f.fields == {"year": 2024, "lang": "en"}
    assert parse_filters([]) is None
    with pytest.raises(FilterError, match="KEY=VALUE"):
        parse_filters(["nonsense"])
    with pytest.raises(FilterError, match="ISO"):
        parse_filters(["after=yesterday"])


@pytest.mark.real_model
def test_real_models_hybrid_and_llm_rerank(tmp_path, real_embedder, real_llm):
    texts = {"heart": "Statins lower LDL cholesterol and reduce heart attacks.",
             "rain": "Monsoon rains flood the river delta every summer.",
             "chess": "The Sicilian defence is a popular chess opening."}
    store = open_store(tmp_path / "index")
    writer = store.writer()
    for doc_id, text in texts.items():
        doc = Document(id=doc_id, source=f"{doc_id}.txt", title=doc_id, text=text,
                       content_hash=content_hash(text))
        chunk = Chunk(id=f"{doc_id}#0", doc_id=doc_id, ordinal=0, text=text, dense_text=text,
                      lexical_text=text)
        writer.replace_document(doc, [chunk], real_embedder.embed_passages([text]))
    writer.commit()
    hybrid = build_retriever(RetrieveSettings(), store, real_embedder, None)
    assert hybrid.search("drugs that reduce cholesterol", 1)[0].chunk.doc_id == "heart"
    # one grade keeps this test to a single call of the tiny model
    reranked = build_retriever(RetrieveSettings(rerank="llm", rerank_depth=1), store,
                               real_embedder, real_llm)
    found = reranked.search("drugs that reduce cholesterol", 3)
    assert [c.chunk.doc_id for c in found][0] == "heart" and len(found) == 3
    assert found[0].scores["rerank"] in (0.0, 1.0, 2.0, 3.0)
    assert "rerank" not in found[1].scores
    store.close()
