"""Incremental sync orchestration on a fake store, fake embedder and fake LLM: bad inputs,
unchanged re-runs with no LLM calls, one edited file, prune, resume after a crash, config
changes, duplicates."""

from __future__ import annotations

import json
import shutil

import pytest

from fakes import FakeEmbedder, FakeLLMBackend
from ragloop.config import IngestSettings
from ragloop.errors import StoreError
from ragloop.ingest.sync import ingest_paths
from ragloop.models.cache import DiskCache
from ragloop.models.llm import LLMClient

from .fake_store import FakeStore
from .samples import BAD, GOOD_QUERIES, make_bad_input_folder


def responder(messages, params, schema):
    if schema is not None:
        return json.dumps({"questions": ["What does this passage explain about its topic?",
                                         "Which facts does the passage give?"]})
    return "This passage belongs to a test document. It explains one fact."


def make_llm(tmp_path) -> LLMClient:
    return LLMClient(FakeLLMBackend(responder),
                     DiskCache(tmp_path / "cache" / "llm.sqlite", table="completions"))


ENRICHED = IngestSettings(contextual=True, questions_per_chunk=2, batch_docs=3)


def ingest(paths, store, llm=None, settings=ENRICHED, **kwargs):
    return ingest_paths(paths, settings=settings, store=store, embedder=FakeEmbedder(),
                        llm=llm, progress=False, **kwargs)


@pytest.fixture
def folder(tmp_path):
    return make_bad_input_folder(tmp_path / "docs")


def test_bad_input_folder_reports_each_failure_and_indexes_every_good_file(folder, tmp_path):
    store = FakeStore()
    report = ingest([folder["good_md"].parent], store, make_llm(tmp_path))
    errors = report.errors
    assert report.failed == len(BAD) + 1 == len(errors)  # + the BEIR line that is not JSON
    for name in BAD:
        assert sum(str(folder[name]) in e for e in errors) == 1
    assert any(e.startswith(f"{folder['corpus']}:2: not JSON") for e in errors)
    assert report.added == 8 and report.unchanged == 0 and not report.ok
    assert any("decoded as cp1252" in w for f in report.files for w in f.warnings)
    for word, name in GOOD_QUERIES.items():
        hits = store.lexical_search(word, 3)
        assert hits, word
        chunk = next(c for c in store.chunks() if c.id == hits[0][0])
        assert store.docs[chunk.doc_id][0].metadata["path"] == str(folder[name].resolve())
    assert report.chunks == len(store.chunks()) and report.questions == len(store.questions())
    assert all(c.context and c.context in c.dense_text for c in store.chunks())
    assert report.llm["cache_misses"] > 0


def test_second_run_is_unchanged_with_zero_llm_calls(folder, tmp_path):
    store, llm = FakeStore(), make_llm(tmp_path)
    ingest([folder["good_md"].parent], store, llm)
    commits = store.commits
    report = ingest([folder["good_md"].parent], store, llm)
    assert report.unchanged == 8 and report.added == report.changed == 0
    assert report.llm["calls"] == 0 and store.commits == commits  # nothing to write


def test_editing_one_file_reprocesses_exactly_that_file(folder, tmp_path):
    store, llm = FakeStore(), make_llm(tmp_path)
    ingest([folder["good_md"].parent], store, llm)
    folder["good_txt"].write_text("Emperor penguins huddle. They also swim fast.\n")
    text = folder["corpus"].read_text().replace("three hearts", "3 hearts")
    folder["corpus"].write_text(text)
    report = ingest([folder["good_md"].parent], store, llm)
    changed = {f.path: f.changed for f in report.files if f.changed}
    assert changed == {str(folder["good_txt"]): 1, str(folder["corpus"]): 1}
    assert report.changed == 2 and report.unchanged == 6 and report.added == 0
    assert any("swim fast" in c.text for c in store.chunks())


def test_a_fresh_index_reuses_the_llm_cache(folder, tmp_path):
    llm = make_llm(tmp_path)
    ingest([folder["good_md"].parent], FakeStore(), llm)
    report = ingest([folder["good_md"].parent], FakeStore(), llm)
    assert report.added == 8
    assert report.llm["calls"] > 0 and report.llm["cache_misses"] == 0


def test_prune_removes_documents_of_vanished_files_only_when_asked(folder, tmp_path):
    store = FakeStore()
    root = folder["good_md"].parent
    ingest([root], store, settings=IngestSettings())
    gone = store.docs.keys() - {"d1", "d2"}
    folder["good_md"].unlink()
    report = ingest([root], store, settings=IngestSettings())
    assert report.stale == 1 and report.removed == [] and len(store.docs) == 8
    report = ingest([root], store, settings=IngestSettings(), prune=True)
    assert len(report.removed) == 1 and len(store.docs) == 7
    assert store.docs.keys() < gone | {"d1", "d2"}


def test_prune_keeps_documents_of_files_that_failed(folder, tmp_path):
    store = FakeStore()
    ingest([folder["corpus"]], store, settings=IngestSettings())
    folder["corpus"].write_text('{"_id": "d1", "title": "Honey bees", "text": "Honey bees '
                                'communicate with a waggle dance."}\n{broken\n')
    report = ingest([folder["corpus"]], store, settings=IngestSettings(), prune=True)
    assert report.failed == 1 and report.removed == [] and {"d1", "d2"} <= store.docs.keys()


def test_a_crash_mid_run_keeps_committed_batches_and_the_rerun_resumes(folder, tmp_path):
    root = folder["good_md"].parent
    settings = IngestSettings(batch_docs=2)
    store = FakeStore(fail_on_commit=3)
    with pytest.raises(StoreError):
        ingest([root], store, settings=settings)
    assert len(store.docs) == 4  # two batches of two documents were committed
    store.fail_on_commit = None
    report = ingest([root], store, settings=settings)
    assert report.unchanged == 4 and report.added == 4 and len(store.docs) == 8


def test_a_config_change_reprocesses_and_is_recorded(folder, tmp_path):
    store = FakeStore()
    ingest([folder["good_md"]], store, settings=IngestSettings())
    report = ingest([folder["good_md"]], store,
                    settings=IngestSettings(chunker="fixed", dense_fields=("text",)))
    assert report.changed == 1
    (document, chunks, _, _), = store.docs.values()
    assert document.bookkeeping.ingest.chunker == "fixed"
    assert document.bookkeeping.ingest.dense_fields == ("text",)
    assert chunks[0].dense_text == chunks[0].text


def test_duplicates_are_reported_and_skipped_and_then_unchanged(folder, tmp_path):
    root = folder["good_md"].parent
    shutil.copy(folder["good_md"], root / "copy.md")
    (root / "near.md").write_text(folder["good_md"].read_text() + "\nThe end.\n")
    store = FakeStore()
    settings = IngestSettings(near_duplicate_threshold=0.7)
    report = ingest([root], store, settings=settings)
    assert report.duplicates == 2
    warnings = [w for f in report.files for w in f.warnings if "duplicate" in w]
    assert any("exact duplicate" in w for w in warnings)
    assert any("near duplicate" in w for w in warnings)
    assert len(store.docs) == 8  # the copies are not indexed
    assert not any("duplicate_of" in d.metadata for d, _, _, _ in store.docs.values())
    assert report.added == 8
    again = ingest([root], store, settings=settings)
    assert again.unchanged == 8 and again.duplicates == 2 and again.added == 0


def test_kept_duplicates_are_indexed_and_marked(folder):
    root = folder["good_md"].parent
    shutil.copy(folder["good_md"], root / "copy.md")
    store = FakeStore()
    report = ingest([root], store, settings=IngestSettings(dedup="keep"))
    assert report.duplicates == 1 and report.added == 9
    marked = [d for d, _, _, _ in store.docs.values() if "duplicate_of" in d.metadata]
    assert len(marked) == 1 and store.docs[marked[0].id][1]


def test_enrichment_without_an_llm_is_a_warning_not_a_failure(folder):
    store = FakeStore()
    report = ingest([folder["good_md"]], store, llm=None)
    assert report.ok and report.added == 1 and "no LLM" in report.warnings[0]
    assert report.questions == 0


def test_no_enrich_skips_llm_calls(folder, tmp_path):
    llm = make_llm(tmp_path)
    report = ingest([folder["good_md"]], FakeStore(), llm, enrich=False)
    assert report.added == 1 and report.llm["calls"] == 0


def test_a_parser_crash_on_one_file_is_that_files_error(folder, monkeypatch):
    from ragloop.ingest.loaders.base import LOADERS

    def explode(path, data, limits):
        raise AttributeError("parser bug on a malformed file")
        yield

    monkeypatch.setattr(LOADERS[".docx"], "load", staticmethod(explode))
    report = ingest([folder["good_md"].parent], FakeStore(), settings=IngestSettings())
    docx_error = [e for e in report.errors if str(folder["good_docx"]) in e]
    assert docx_error == [f"{folder['good_docx']}: cannot parse: AttributeError: parser bug "
                          "on a malformed file"]
    assert report.added == 7


def test_progress_bar_runs(folder, capsys):
    report = ingest_paths([folder["good_md"]], settings=IngestSettings(), store=FakeStore(),
                          embedder=FakeEmbedder(), progress=True)
    assert report.added == 1


def test_a_new_loader_version_parses_files_whose_bytes_did_not_change(folder, tmp_path,
                                                                      monkeypatch):
    from ragloop.ingest.loaders import LOADERS

    store, root = FakeStore(), folder["good_md"].parent
    ingest([root], store)
    markdown = LOADERS[".md"]
    parsed, load = [], markdown.load
    monkeypatch.setattr(markdown, "load",
                        lambda self, path, data, limits: parsed.append(path)
                        or load(self, path, data, limits))
    again = ingest([root], store)
    assert parsed == [] and again.unchanged == 8  # same bytes, same loader: not even parsed
    monkeypatch.setattr(markdown, "version", markdown.version + 1)
    reparsed = ingest([root], store)
    assert [p.name for p in parsed] == ["volcano.md"]  # the one readable Markdown file
    assert reparsed.unchanged == 8 and reparsed.changed == 0  # same text: kept
    # ... and the new file key is stored: the run after that parses nothing again
    parsed.clear()
    steady = ingest([root], store)
    assert parsed == [] and steady.unchanged == 8 and steady.changed == 0


def test_a_new_chunker_version_rechunks_what_it_cut(folder, monkeypatch):
    from ragloop.ingest.chunkers import CHUNKERS

    store, settings = FakeStore(), IngestSettings()
    ingest([folder["good_md"]], store, settings=settings)
    assert ingest([folder["good_md"]], store, settings=settings).unchanged == 1
    structure = CHUNKERS.get("structure")
    monkeypatch.setattr(structure, "version", structure.version + 1)
    assert ingest([folder["good_md"]], store, settings=settings).changed == 1
