"""The embedded store's ANN index: HNSW graphs per large segment, exact for small segments and
selective filters, tombstones honoured, graphs extended (not rebuilt) by merges."""

from __future__ import annotations

import numpy as np
import pytest

from ragloop.index import ann
from ragloop.index.ann import AnnSettings
from ragloop.index.embedded import open_store
from ragloop.index.merge import MERGE_FACTOR
from ragloop.index.store import Filters
from ragloop.records import Chunk, Document

DIM = 32
N = 4000


def clustered(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM))
    x = centres[rng.integers(0, 40, n)] + 0.35 * rng.standard_normal((n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def items(vectors: np.ndarray, start: int = 0):
    for i, vector in enumerate(vectors, start):
        doc = Document(id=f"d{i}", source=f"s/{i}", title="", text=f"text {i}",
                       content_hash=str(i), metadata={"bucket": i % 100})
        chunk = Chunk(id=f"d{i}#0", doc_id=doc.id, ordinal=0, text=f"text {i}",
                      lexical_text=f"text {i}")
        yield doc, [chunk], vector[None, :]


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int, allowed=None) -> list[str]:
    scores = vectors @ query
    if allowed is not None:
        scores[~allowed] = -np.inf
    return [f"d{i}#0" for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > -np.inf]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    vectors = clustered(N, 0)
    store = open_store(tmp_path_factory.mktemp("ann") / "index", AnnSettings(min_rows=1000))
    with store.writer() as writer:
        for item in items(vectors):
            writer.replace_document(*item)
    yield store, vectors
    store.close()


def recall(store, vectors, queries, k=10, filters=None, allowed=None) -> float:
    found = 0
    for query in queries:
        got = [i for i, _ in store.vector_search(query, k, filters)]
        want = exact_top(vectors, query, k, allowed)
        assert len(got) == len(want)
        found += len(set(got) & set(want))
    return found / (k * len(queries))


def test_large_segment_has_a_graph_and_recall_is_high(built):
    store, vectors = built
    segments = list((store.path / "segments").iterdir())
    assert len(segments) == 1 and (segments[0] / ann.ANN_FILE).exists()
    queries = clustered(50, 1)
    assert recall(store, vectors, queries) >= 0.95
    # scores are the exact inner products, as an exact search would report them
    hit, score = store.vector_search(queries[0], 1)[0]
    assert score == pytest.approx(float(vectors[int(hit[1:-2])] @ queries[0]), abs=1e-5)


def test_selective_filter_is_exact_and_returns_k_rows(built):
    store, vectors = built
    buckets = np.arange(N) % 100
    for keep, filters in [(buckets == 7, Filters(fields={"bucket": 7})),  # 1%: exact path
                          (buckets < 30, Filters(sources=tuple(f"s/{i}" for i in range(N)
                                                               if i % 100 < 30)))]:  # 30%
        r = recall(store, vectors, clustered(20, 2), filters=filters, allowed=keep)
        assert r >= (1.0 if keep.mean() < ann.EXACT_BELOW_FRACTION else 0.95)
        hits = store.vector_search(clustered(1, 3)[0], 10, filters)
        assert len(hits) == 10
        assert all(keep[int(h[1:-2])] for h, _ in hits)


def test_tombstones_are_honoured_and_merges_extend_the_graph(tmp_path, monkeypatch):
    bases = []
    build = ann.build
    monkeypatch.setattr(ann, "build", lambda v, s, base=None: bases.append(base) or
                        build(v, s, base))
    store = open_store(tmp_path / "index", AnnSettings(min_rows=300))
    small = 70  # the same size level as 300 rows (log base MERGE_FACTOR), below min_rows
    vectors = clustered(300 + (MERGE_FACTOR - 1) * small, 4)
    with store.writer() as writer:  # one segment with a graph
        for item in items(vectors[:300]):
            writer.replace_document(*item)
    assert bases == [None]
    deleted = set(range(370, 375))  # 65 rows stay: still the level of 300 rows
    for b in range(MERGE_FACTOR - 1):  # small segments without graphs, then the merge
        with store.writer() as writer:
            start = 300 + b * small
            for item in items(vectors[start:start + small], start):
                writer.replace_document(*item)
            if b == 1:
                for i in deleted:  # tombstones in a small segment, dropped by the merge
                    writer.delete_document(f"d{i}")
    assert store.stats()["segments"] == 1
    assert len(bases) == 2 and bases[1] is not None  # the merge extended the first graph
    with store.writer() as writer:  # tombstones in the merged segment, honoured by search
        for i in range(0, 300, 3):
            writer.delete_document(f"d{i}")
            deleted.add(i)
    allowed = np.ones(len(vectors), dtype=bool)
    allowed[list(deleted)] = False
    queries = clustered(30, 5)
    assert recall(store, vectors, queries, allowed=allowed) >= 0.95
    for query in queries:
        assert not {int(h[1:-2]) for h, _ in store.vector_search(query, 50)} & deleted


def test_ann_disabled_searches_exactly(tmp_path):
    vectors = clustered(1500, 6)
    store = open_store(tmp_path / "index", AnnSettings(min_rows=1000))
    with store.writer() as writer:
        for item in items(vectors):
            writer.replace_document(*item)
    exact = open_store(tmp_path / "index", AnnSettings(enabled=False))
    for query in clustered(10, 7):
        assert [i for i, _ in exact.vector_search(query, 10)] == exact_top(vectors, query, 10)


def test_optimize_merges_every_segment_into_one_graph_and_drops_deleted_rows(tmp_path):
    vectors = clustered(3000, 5)
    store = open_store(tmp_path / "index", AnnSettings(min_rows=500))
    for start in range(0, 3000, 600):  # five commits: five segments, each with a graph
        with store.writer() as writer:
            for item in items(vectors[start:start + 600], start):
                writer.replace_document(*item)
    with store.writer() as writer:
        writer.delete_document("d7")
    reader = open_store(tmp_path / "index", AnnSettings(min_rows=500))
    queries = clustered(20, 6)
    def ids(found):
        return [i for i, _ in found]

    alive = np.ones(3000, dtype=bool)
    alive[7] = False
    assert recall(reader, vectors, queries, allowed=alive) >= 0.95
    assert store.stats()["segments"] > 2  # chunk and question segments, several of each
    merged = store.writer().optimize()
    assert merged["chunks"] >= 5
    assert store.stats()["segments"] == 1  # questions had none: one chunk segment is left
    assert len(list((tmp_path / "index" / "segments").glob("*/hnsw.faiss"))) >= 1
    # a reader that opened before the merge picks up the merged index and loses nothing
    assert recall(reader, vectors, queries, allowed=alive) >= 0.95
    assert recall(store, vectors, queries, allowed=alive) >= 0.95
    assert all("d7#0" not in ids(store.vector_search(q, 10)) for q in queries)
    assert store.stats()["chunks"] == 2999
    assert store.writer().optimize() == {}  # one segment, nothing deleted: nothing to do
    reader.close()
    store.close()


def test_index_optimize_command_merges_the_projects_segments(project, tmp_path):
    from typer.testing import CliRunner

    from fakes import FakeEmbedder
    from ragloop.cli import app
    from ragloop.pipeline import Pipeline

    folder = tmp_path / "files"
    folder.mkdir()
    with Pipeline(project, embedder=FakeEmbedder()) as pipeline:
        for i in range(3):  # three ingests: three commits, three chunk segments
            (folder / f"n{i}.md").write_text(f"# Note {i}\n\nNote {i} is about topic{i}.")
            pipeline.ingest([folder])
        segments = pipeline.store.stats()["segments"]
    assert segments >= 3
    runner = CliRunner()
    result = runner.invoke(app, ["--project", str(project.root), "index", "optimize"])
    assert result.exit_code == 0, result.output
    assert f"merged {segments} segments into 1" in result.output
    again = runner.invoke(app, ["--project", str(project.root), "index", "optimize"])
    assert again.exit_code == 0 and "nothing to merge (1 segment(s)" in again.output
    with open_store(project.data_dir / "index") as store:
        assert store.stats()["chunks"] == 3


def test_the_beam_widens_with_the_graph_beyond_ef_rows(built, monkeypatch):
    settings = AnnSettings(ef_search=100, ef_rows=1000)
    assert settings.ef_for(1000) == 100 and settings.ef_for(4000) == 400
    assert settings.ef_for(4001) == 401  # rounded up
    assert AnnSettings(ef_search=100, ef_rows=0).ef_for(10**6) == 100
    store, vectors = built
    beams = []
    search = ann.search
    monkeypatch.setattr(ann, "search", lambda graph, query, k, valid, ef: beams.append(ef)
                        or search(graph, query, k, valid, ef))
    for ef_rows, beam in ((1000, 4 * 100), (0, 100)):
        reader = open_store(store.path, AnnSettings(min_rows=1000, ef_search=100,
                                                    ef_rows=ef_rows))
        reader.vector_search(vectors[0], 10)
        reader.close()
        assert beams.pop() == beam  # the 4,000-row segment's graph
