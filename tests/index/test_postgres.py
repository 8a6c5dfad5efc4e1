"""The Postgres store beyond the shared contract: BM25 scores equal to the embedded store's,
re-ingestion that replaces a changed file's chunks exactly, the factory, and migrating an
embedded index without embedding again. Runs against the session's PostgreSQL server."""

from __future__ import annotations

import os

import numpy as np
import pytest
from typer.testing import CliRunner

from fakes import FakeEmbedder
from ragloop.config import IndexSettings
from ragloop.index.embedded import open_store
from ragloop.index.factory import build_store
from ragloop.index.store import Filters
from ragloop.pipeline import Pipeline
from ragloop.records import Chunk, Document

EMB = FakeEmbedder()


@pytest.fixture
def pg(pg_url, request):
    from ragloop.index.postgres import PostgresSettings, PostgresStore

    schema = "t_" + request.node.name.lower().replace("[", "_").replace("]", "")[:40]
    stores = []

    def make(name: str = schema):
        store = PostgresStore(PostgresSettings(url=pg_url, schema=name))
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        for store in stores:
            conn.execute(f"DROP SCHEMA IF EXISTS {store.s} CASCADE")


def corpus(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(400)]
    for i in range(n):
        texts = [" ".join(rng.choice(words, size=int(rng.integers(3, 40)))) for _ in range(2)]
        doc = Document(id=f"d{i}", source=f"docs/{i % 3}/{i}.md", title="", text="",
                       content_hash=str(i), mtime=float(i), metadata={"part": i % 4})
        chunks = [Chunk(id=f"d{i}#{j}", doc_id=doc.id, ordinal=j, text=t, lexical_text=t)
                  for j, t in enumerate(texts)]
        yield doc, chunks, EMB.embed_passages(texts)


def same_ranking(a, b) -> bool:
    """Scores equal rank by rank; ids equal except the order among exactly tied scores."""
    assert len(a) == len(b)
    for (_, x), (_, y) in zip(a, b, strict=True):
        assert x == pytest.approx(y, rel=1e-6)  # the embedded store scores in float32
    last = a[-1][1] * (1 + 1e-6) if a else 0.0
    return {i for i, s in a if s > last} == {i for i, s in b if s > last}


def test_bm25_scores_equal_the_embedded_store(pg, tmp_path):
    postgres, embedded = pg(), open_store(tmp_path / "index")
    docs = list(corpus())
    for store in (postgres, embedded):
        for start in range(0, len(docs), 100):  # several commits: several segments
            with store.writer() as writer:
                for doc in docs[start:start + 100]:
                    writer.replace_document(*doc)
        with store.writer() as writer:  # deletions change df, N and avgdl
            for i in range(0, 300, 7):
                writer.delete_document(f"d{i}")
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(30):
        query = " ".join(f"w{i}" for i in rng.integers(0, 400, size=4))
        for filters in (None, Filters(fields={"part": 1}), Filters(path_glob="docs/2/*")):
            a = postgres.lexical_search(query, 10, filters)
            b = embedded.lexical_search(query, 10, filters)
            assert a and same_ranking(a, b)
            checked += 1
    assert checked == 90
    embedded.close()


def test_reingesting_a_changed_file_replaces_its_chunks_exactly(pg, project, tmp_path):
    store = pg()
    folder = tmp_path / "files"
    folder.mkdir()
    long = "\n\n".join(f"Paragraph {i} about apples and pears number {i}. " * 12
                       for i in range(8))
    (folder / "fruit.md").write_text("# Fruit\n\n" + long)
    (folder / "other.md").write_text("# Other\n\nBicycles have two wheels and a bell.")
    with Pipeline(project, store=store, embedder=EMB) as pipeline:
        pipeline.ingest([folder])
        before = {e.source: e for e in store.documents()}
        fruit = next(e for s, e in before.items() if s.endswith("fruit.md"))
        assert fruit.n_chunks > 2
        (folder / "fruit.md").write_text("# Fruit\n\nOnly bananas remain.")
        pipeline.ingest([folder])
        pipeline.ingest([folder])  # unchanged: nothing happens
    after = {e.source: e for e in store.documents()}
    assert set(after) == set(before)
    fruit = next(e for s, e in after.items() if s.endswith("fruit.md"))
    assert fruit.n_chunks == 1
    assert store.lexical_search("apples pears paragraph", 10) == []
    assert [c.text for c in store.get_chunks([f"{fruit.doc_id}#0"])][0].endswith(
        "Only bananas remain.")
    # no duplicate or stale rows, and the BM25 statistics match the rows that remain
    s = store.s
    rows = dict(store._query(f"SELECT 'chunks', count(*) FROM {s}.chunks UNION ALL "
                             f"SELECT 'documents', count(*) FROM {s}.documents"))
    assert rows["chunks"] == sum(e.n_chunks for e in after.values())
    assert rows["documents"] == 2
    (bad_df,), = store._query(
        f"SELECT count(*) FROM {s}.chunks_terms t FULL JOIN (SELECT term, count(*) AS c "
        f"FROM {s}.chunks_postings GROUP BY term) p USING (term) "
        f"WHERE coalesce(t.df, 0) <> coalesce(p.c, 0)")
    assert bad_df == 0
    (n, total), = store._query(f"SELECT n, total_len FROM {s}.stats WHERE target = 'chunks'")
    assert (n, total) == tuple(store._query(f"SELECT count(*), sum(len)::float FROM "
                                            f"{s}.chunks")[0])


def test_factory_opens_postgres_from_url_env(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("RAGLOOP_PG_FOR_FACTORY", pg_url)
    settings = IndexSettings(backend="postgres", url_env="RAGLOOP_PG_FOR_FACTORY",
                             pg_schema="t_factory")
    with build_store(settings, tmp_path) as store:
        assert store.stats()["backend"] == "postgres"
        store._conn().execute("DROP SCHEMA t_factory CASCADE")
    from ragloop.errors import ConfigError

    with pytest.raises(ConfigError, match="url"):
        build_store(IndexSettings(backend="postgres"), tmp_path)


def test_migrate_copies_an_embedded_index_without_embedding(pg, project, tmp_path):
    from ragloop.cli import app

    folder = tmp_path / "files"
    folder.mkdir()
    for i in range(5):
        (folder / f"n{i}.md").write_text(f"# Note {i}\n\nNote {i} is about topic{i} and tea.")
    with Pipeline(project, embedder=EMB) as pipeline:
        pipeline.ingest([folder])
        with pipeline.store.writer() as writer:
            writer.set_index_info(embedder={"id": EMB.model_id, "dim": EMB.dim})
    runner = CliRunner()
    result = runner.invoke(app, ["--project", str(project.root), "index", "migrate", "--to",
                                 "postgres", "--url-env", "RAGLOOP_TEST_PG_URL", "--schema",
                                 "t_migrate"])
    assert result.exit_code == 0, result.output
    assert "copied 5 documents" in result.output
    target = pg("t_migrate")
    source = open_store(project.data_dir / "index")
    assert target.index_info() == source.index_info()
    assert {e.doc_id: e.content_hash for e in target.documents()} == {
        e.doc_id: e.content_hash for e in source.documents()}
    query = EMB.embed_queries(["topic3 tea"])[0]
    a, b = target.vector_search(query, 3), source.vector_search(query, 3)
    assert a[0][0] == b[0][0]  # the rest are tied (the fake embedder's bag of words)
    assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-5)
    assert same_ranking(target.lexical_search("note tea topic2", 5),
                        source.lexical_search("note tea topic2", 5))
    source.close()
    assert os.environ["RAGLOOP_TEST_PG_URL"]
