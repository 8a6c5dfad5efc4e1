"""The Store contract. Every store (embedded today, a server store later) runs these tests:
add a factory to ``STORE_FACTORIES``."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from fakes import FakeEmbedder
from ragloop.errors import StoreError
from ragloop.index.ann import AnnSettings
from ragloop.index.embedded import open_store
from ragloop.index.store import Filters, Store
from ragloop.records import Chunk, Document, Question, content_hash

EMB = FakeEmbedder()


def _embedded(path: Path):
    return open_store(path / "index")


def _embedded_ann(path: Path):
    """Every segment gets an HNSW graph, however small, so the contract runs through ANN."""
    return open_store(path / "index", AnnSettings(min_rows=1))


def pg_schema(path: Path) -> str:
    """One schema per test folder, so a test and its child processes share an index."""
    return "t_" + hashlib.sha1(str(path).encode()).hexdigest()[:16]


def _postgres(path: Path):
    from ragloop.index.postgres import PostgresSettings, PostgresStore

    return PostgresStore(PostgresSettings(url=os.environ["RAGLOOP_TEST_PG_URL"],
                                          schema=pg_schema(path)))


STORE_FACTORIES = {"embedded": _embedded, "embedded-ann": _embedded_ann,
                   "postgres": _postgres}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def make_store(request, tmp_path):
    factory = STORE_FACTORIES[request.param]
    if request.param == "postgres":
        request.getfixturevalue("pg_url")
    opened = []

    def make():
        store = factory(tmp_path)
        opened.append(store)
        return store

    make.kind = request.param
    yield make
    for store in opened:
        store.close()
    if request.param == "postgres":
        import psycopg

        with psycopg.connect(os.environ["RAGLOOP_TEST_PG_URL"], autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {pg_schema(tmp_path)} CASCADE")


def make_doc(doc_id: str, texts: list[str], *, source: str | None = None,
             mtime: float | None = 1000.0, metadata: dict | None = None,
             questions: dict[int, list[str]] | None = None):
    text = "\n\n".join(texts)
    doc = Document(id=doc_id, source=source or f"docs/{doc_id}.md", title=doc_id.upper(),
                   text=text, content_hash=content_hash(text), mtime=mtime,
                   metadata=metadata or {})
    chunks = [Chunk(id=f"{doc_id}#{i}", doc_id=doc_id, ordinal=i, text=t, lexical_text=t,
                    dense_text=t) for i, t in enumerate(texts)]
    qs = [Question(id=f"{doc_id}#{i}?{j}", chunk_id=f"{doc_id}#{i}", doc_id=doc_id, text=q)
          for i, items in (questions or {}).items() for j, q in enumerate(items)]
    qvecs = EMB.embed_passages([q.text for q in qs]) if qs else None
    return doc, chunks, EMB.embed_passages(texts), qs, qvecs


def put(store, *docs) -> None:
    writer = store.writer()
    for doc in docs:
        writer.replace_document(*doc)
    writer.commit()


def ids(hits) -> list[str]:
    return [hit_id for hit_id, _ in hits]


CORPUS = [
    make_doc("cats", ["cats purr and sleep on warm sofas", "a kitten drinks milk"],
             metadata={"lang": "en", "team": "pets"}, mtime=100.0,
             questions={0: ["why do cats purr"]}),
    make_doc("rust", ["the rust compiler checks borrowing", "cargo builds rust crates"],
             source="code/rust.md", metadata={"lang": "en", "team": "dev"}, mtime=200.0,
             questions={1: ["how are crates built"]}),
    make_doc("kaese", ["käse und brot zum frühstück"], source="docs/de/kaese.md",
             metadata={"lang": "de"}, mtime=300.0),
]


def test_is_a_store(make_store):
    assert isinstance(make_store(), Store)


def test_empty_store_searches_return_nothing(make_store):
    store = make_store()
    assert list(store.documents()) == []
    assert store.lexical_search("cats", 5) == []
    assert store.vector_search(EMB.embed_queries(["cats"])[0], 5) == []
    assert store.get_chunks(["nope"]) == []


def test_commit_makes_documents_searchable(make_store):
    store = make_store()
    put(store, *CORPUS)
    assert ids(store.lexical_search("rust borrowing compiler", 3))[0] == "rust#0"
    assert ids(store.vector_search(EMB.embed_queries(["a kitten drinks milk"])[0], 1)) == [
        "cats#1"]
    scores = [s for _, s in store.lexical_search("rust cargo crates", 5)]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    entries = {e.doc_id: e for e in store.documents()}
    assert set(entries) == {"cats", "rust", "kaese"}
    assert entries["cats"].content_hash == CORPUS[0][0].content_hash
    assert entries["cats"].n_chunks == 2 and entries["cats"].n_questions == 1
    assert entries["rust"].source == "code/rust.md" and entries["rust"].mtime == 200.0
    assert entries["cats"].metadata == {"lang": "en", "team": "pets"}


def test_stemming_and_stopwords_in_lexical_search(make_store):
    store = make_store()
    put(store, *CORPUS)
    assert ids(store.lexical_search("the purring cat", 1)) == ["cats#0"]
    assert store.lexical_search("the and of", 5) == []


def test_nothing_visible_before_commit_and_rollback_discards(make_store):
    store = make_store()
    put(store, CORPUS[0])
    writer = store.writer()
    writer.replace_document(*CORPUS[1])
    writer.delete_document("cats")
    other = make_store()
    assert other.lexical_search("rust", 5) == []
    assert {e.doc_id for e in other.documents()} == {"cats"}
    writer.rollback()
    assert store.lexical_search("rust", 5) == []
    assert ids(store.lexical_search("kitten", 5)) == ["cats#1"]
    put(store, CORPUS[1])  # a new writer works after a rollback
    assert ids(store.lexical_search("cargo", 5)) == ["rust#1"]


def test_writer_context_manager_rolls_back_on_error(make_store):
    store = make_store()
    with pytest.raises(RuntimeError), store.writer() as writer:
        writer.replace_document(*CORPUS[0])
        raise RuntimeError("boom")
    assert list(store.documents()) == []
    with store.writer() as writer:
        writer.replace_document(*CORPUS[0])
    assert [e.doc_id for e in store.documents()] == ["cats"]


def test_replace_document_replaces_all_chunks_and_questions(make_store):
    store = make_store()
    put(store, *CORPUS)
    put(store, make_doc("cats", ["dogs bark at the mailman"], questions={0: ["who barks"]}))
    assert store.lexical_search("kitten milk", 5) == []
    assert store.lexical_search("purr", 5, target="questions") == []
    assert ids(store.lexical_search("dogs bark", 5)) == ["cats#0"]
    assert store.get_chunks(["cats#1"]) == []
    assert store.get_chunks(["cats#0"])[0].text == "dogs bark at the mailman"
    assert ids(store.lexical_search("barks", 5, target="questions")) == ["cats#0?0"]
    entry = next(e for e in store.documents() if e.doc_id == "cats")
    assert entry.n_chunks == 1


def test_delete_document(make_store):
    store = make_store()
    put(store, *CORPUS)
    writer = store.writer()
    writer.delete_document("rust")
    writer.delete_document("never-existed")
    writer.commit()
    assert {e.doc_id for e in store.documents()} == {"cats", "kaese"}
    assert store.lexical_search("rust cargo", 5) == []
    hits = store.vector_search(EMB.embed_queries(["cargo builds rust crates"])[0], 10)
    assert not any(h.startswith("rust") for h in ids(hits))
    assert store.lexical_search("crates", 5, target="questions") == []


def test_get_chunks_and_questions_keep_requested_order(make_store):
    store = make_store()
    put(store, *CORPUS)
    chunks = store.get_chunks(["rust#1", "missing", "cats#0"])
    assert [c.id for c in chunks] == ["rust#1", "cats#0"]
    assert chunks[0] == CORPUS[1][1][1]
    questions = store.get_questions(["rust#1?0", "cats#0?0"])
    assert [q.chunk_id for q in questions] == ["rust#1", "cats#0"]
    assert questions[1].text == "why do cats purr"


def test_question_search_lexical_and_vector(make_store):
    store = make_store()
    put(store, *CORPUS)
    assert ids(store.lexical_search("why purr", 5, target="questions")) == ["cats#0?0"]
    vec = EMB.embed_queries(["how are crates built"])[0]
    assert ids(store.vector_search(vec, 1, target="questions")) == ["rust#1?0"]


@pytest.mark.parametrize("target", ["chunks", "questions"])
@pytest.mark.parametrize("filters, expected_docs", [
    (Filters(sources=("code/rust.md",)), {"rust"}),
    (Filters(path_glob="docs/*"), {"cats", "kaese"}),
    (Filters(modified_after=150.0), {"rust", "kaese"}),
    (Filters(modified_before=250.0), {"cats", "rust"}),
    (Filters(fields={"team": "pets"}), {"cats"}),
    (Filters(fields={"lang": "en"}, modified_after=150.0), {"rust"}),
    (Filters(sources=("nope",)), set()),
])
def test_filters_are_honoured_by_every_search(make_store, target, filters, expected_docs):
    store = make_store()
    put(store, *CORPUS)
    query = "cats purr rust crates käse kitten why how"
    lexical = store.lexical_search(query, 50, filters, target=target)
    dense = store.vector_search(EMB.embed_queries([query])[0], 50, filters, target=target)
    all_docs = {"cats", "rust", "kaese"} if target == "chunks" else {"cats", "rust"}
    for hits in (lexical, dense):
        docs = {hit.split("#")[0] for hit in ids(hits)}
        assert docs == expected_docs & all_docs


def test_a_filtered_search_follows_the_next_commit(make_store):
    """Readers keep per-filter state between queries: a commit must not leave it stale."""
    store = make_store()
    put(store, *CORPUS)
    pets = Filters(fields={"team": "pets"})
    vector = EMB.embed_queries(["kitten purr"])[0]
    before = {h.split("#")[0] for h in ids(store.vector_search(vector, 10, pets))}
    put(store, make_doc("dogs", ["Dogs wag their tails when a kitten purrs."],
                        metadata={"team": "pets"}))
    after = {h.split("#")[0] for h in ids(store.vector_search(vector, 10, pets))}
    assert before == {"cats"} and after == {"cats", "dogs"}
    with store.writer() as writer:
        writer.delete_document("cats")
    assert {h.split("#")[0] for h in ids(store.vector_search(vector, 10, pets))} == {"dogs"}


def test_reopen_after_close(make_store):
    store = make_store()
    put(store, *CORPUS)
    store.close()
    with pytest.raises(StoreError):
        store.lexical_search("cats", 5)
    again = make_store()
    assert ids(again.lexical_search("kitten", 5)) == ["cats#1"]
    assert len(list(again.documents())) == 3


def test_reader_sees_commits_of_another_writer(make_store):
    reader = make_store()
    writer_store = make_store()
    put(writer_store, CORPUS[0])
    assert ids(reader.lexical_search("kitten", 5)) == ["cats#1"]
    put(writer_store, CORPUS[1])
    assert ids(reader.lexical_search("cargo", 5)) == ["rust#1"]
    put(writer_store, make_doc("cats", ["only dogs now"]))
    assert reader.lexical_search("kitten", 5) == []


def test_many_small_commits_and_deletes_stay_correct(make_store):
    """Enough commits to trigger segment merges; results must equal a fresh single build."""
    store = make_store()
    docs = [make_doc(f"d{i}", [f"topic{i % 7} word{i} shared", f"extra{i % 3} shared"])
            for i in range(60)]
    for i in range(0, 60, 3):
        put(store, *docs[i:i + 3])
    writer = store.writer()
    for i in range(0, 60, 5):
        writer.delete_document(f"d{i}")
    writer.commit()
    live = [d for i, d in enumerate(docs) if i % 5]
    assert len(list(store.documents())) == len(live)
    hits = store.lexical_search("topic3 shared", 100)
    expected = {c.id for d in live for c in d[1]}
    assert {h for h, _ in hits} == expected  # every live chunk has "shared"
    assert ids(store.lexical_search("word13", 5)) == ["d13#0"]
    assert store.lexical_search("word10", 5) == []
    vec = EMB.embed_queries(["topic4 word11 shared"])[0]
    assert ids(store.vector_search(vec, 1)) == ["d11#0"]


def test_dimension_mismatch_is_a_store_error(make_store):
    store = make_store()
    put(store, CORPUS[0])
    doc, chunks, vectors, _, _ = make_doc("x", ["some text"])
    writer = store.writer()
    with pytest.raises(StoreError, match="dimension"):
        writer.replace_document(doc, chunks, np.zeros((1, 3), dtype=np.float32))
    writer.rollback()


_CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_store_contract import STORE_FACTORIES, make_doc
    from pathlib import Path
    store = STORE_FACTORIES[{factory!r}](Path({root!r}))
    writer = store.writer()
    for i in range(400):
        writer.replace_document(*make_doc(f"new{{i}}", [f"fresh words number {{i}}"]))
    writer.delete_document("cats")
    if {mode!r} == "before-commit":
        print("staged", flush=True)
        time.sleep(60)
    else:
        print("committing", flush=True)
        while True:
            writer.replace_document(*make_doc("cats", ["loop text"]))
            writer.commit()
""")


@pytest.mark.parametrize("mode", ["before-commit", "while-committing"])
def test_kill_9_leaves_a_complete_searchable_index(make_store, tmp_path, mode):
    store = make_store()
    put(store, *CORPUS)
    code = _CHILD.format(tests=str(Path(__file__).parent.parent), factory=make_store.kind,
                         root=str(tmp_path), mode=mode)
    # the child imports the same ragloop as this process (a worktree's src before the venv's)
    paths = [str(Path(__file__).parent), *sys.path]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    assert child.stdout.readline()  # staged, or about to commit in a loop
    if mode == "while-committing":
        time.sleep(0.3)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    again = make_store()
    entries = {e.doc_id: e for e in again.documents()}
    assert {"rust", "kaese"} <= set(entries)
    if mode == "before-commit":
        assert set(entries) == {"cats", "rust", "kaese"}
        assert again.lexical_search("fresh words", 5) == []
    # whatever generation survived is complete: every listed chunk is searchable
    for entry in entries.values():
        chunk_ids = [f"{entry.doc_id}#{i}" for i in range(entry.n_chunks)]
        assert len(again.get_chunks(chunk_ids)) == entry.n_chunks
    assert ids(again.lexical_search("rust borrowing compiler", 1)) == ["rust#0"]
    put(again, make_doc("after", ["written after the crash"]))  # the lock was released
    assert ids(again.lexical_search("crash", 5)) == ["after#0"]


def test_reader_keeps_working_while_a_writer_commits_and_merges(make_store):
    import threading

    reader, writer_store = make_store(), make_store()
    put(writer_store, *CORPUS)
    errors: list[BaseException] = []
    seen = 0
    stop = threading.Event()

    def read() -> None:
        nonlocal seen
        vec = EMB.embed_queries(["rust borrowing compiler"])[0]
        while not stop.is_set():
            try:
                assert ids(reader.lexical_search("rust borrowing compiler", 1)) == ["rust#0"]
                assert "rust#0" in ids(reader.vector_search(vec, 3))
                seen += 1
            except BaseException as err:  # noqa: BLE001 - reported by the main thread
                errors.append(err)
                return

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(24):  # enough commits for merges (MERGE_FACTOR segments per level)
            put(writer_store, make_doc(f"churn{i % 5}", [f"churn text {i}"]))
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[0]
    assert seen > 0


def test_index_info_commits_atomically_with_the_documents(make_store):
    store = make_store()
    assert store.index_info() == {}
    writer = store.writer()
    writer.replace_document(*CORPUS[0])
    writer.set_index_info(embedder={"id": "minilm", "dim": 384}, note="first")
    assert make_store().index_info() == {}  # nothing before commit
    writer.rollback()
    assert store.index_info() == {} and list(store.documents()) == []
    with store.writer() as writer:
        writer.replace_document(*CORPUS[0])
        writer.set_index_info(embedder={"id": "minilm", "dim": 384}, note="first")
    assert store.index_info() == {"embedder": {"id": "minilm", "dim": 384}, "note": "first"}
    with store.writer() as writer:
        writer.set_index_info(note=None, embedder={"id": "other", "dim": 384})
    again = make_store()
    assert again.index_info() == {"embedder": {"id": "other", "dim": 384}}
    assert [e.doc_id for e in again.documents()] == ["cats"]
