"""Probe items 5, 6 and 7 of issue 27, on BEIR corpora (``.jsonl``): a file with no newline is
read no further than the size limit of a record (a 1 GB line reached 2.4 GB of memory); a
record whose metadata is unusable or whose text holds a lone surrogate is that record's note
or error, naming its line, and every later record loads (one stopped the run, the other
silently dropped the rest of the file); a record's ``_id`` never replaces another file's
document (a record took a Markdown file's id and replaced it, "changed", no warning)."""

from __future__ import annotations

import json
import tracemalloc

from fakes import FakeEmbedder
from ingest.fake_store import FakeStore
from ragloop.config import IngestSettings
from ragloop.errors import IngestError
from ragloop.ingest.loaders import file_doc_id, load_path
from ragloop.ingest.sync import ingest_paths


def _ingest(paths, store, **settings):
    return ingest_paths(paths, settings=IngestSettings(**settings), store=store,
                        embedder=FakeEmbedder(), progress=False)


def _lines(path, *records: str):
    path.write_text("".join(line + "\n" for line in records), encoding="utf-8")
    return path


def test_a_line_without_newline_is_read_no_further_than_the_record_limit(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    with corpus.open("wb") as handle:  # 8 MB of one unterminated line, then a record
        handle.write(b'{"_id": "huge", "text": "' + b"x" * (8 << 20) + b'"}\n')
        handle.write(b'{"_id": "ok", "title": "Bees", "text": "Bees dance."}')
    load_path(_lines(tmp_path / "warm.jsonl", '{"_id": "w", "text": "Warm."}'))  # imports
    errors: list[IngestError] = []
    tracemalloc.start()
    try:
        documents = load_path(corpus, errors=errors, max_file_mb=0.25)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 << 20, f"peak {peak / 2**20:.1f} MiB"  # the line was 8 MiB
    assert [d.id for d in documents] == ["ok"]
    assert len(errors) == 1 and str(errors[0]).startswith(f"{corpus}:1: line is 8.0 MB")
    assert "max_file_mb" in str(errors[0])


def test_unusable_metadata_is_a_note_and_the_run_goes_on(tmp_path):
    corpus = _lines(tmp_path / "corpus.jsonl",
                    json.dumps({"_id": "w", "text": "Warned text.", "metadata": {
                        "warnings": 5, "file_hash": 7, "topic": "bees", "deep": {"a": 1}}}),
                    json.dumps({"_id": "after", "text": "A later record."}))
    store = FakeStore()
    report = _ingest([corpus], store)
    assert report.ok, report.errors
    assert set(store.docs) == {"w", "after"}
    assert store.docs["w"][0].metadata["topic"] == "bees"
    notes = report.files[0].warnings
    assert any(f"{corpus}:1" in n and "'warnings' is set by ingestion" in n for n in notes)
    assert any("'deep' is dict" in n for n in notes)


def test_a_lone_surrogate_is_its_lines_error_and_later_records_load(tmp_path):
    corpus = _lines(tmp_path / "corpus.jsonl",
                    '{"_id": "a", "text": "First record."}',
                    '{"_id": "bad", "text": "Broken \\ud800 text."}',
                    '{"_id": "c", "text": "Third record."}',
                    '{"_id": "d", "title": "T \\udfff", "text": "Fourth."}',
                    '{"_id": "e", "text": "Fifth record."}')
    store = FakeStore()
    report = _ingest([corpus], store)
    assert set(store.docs) == {"a", "c", "e"}
    assert len(report.errors) == 2, report.errors
    assert report.errors[0].startswith(f"{corpus}:2: 'text' holds a lone surrogate (U+D800)")
    assert report.errors[1].startswith(f"{corpus}:4: 'title' holds a lone surrogate")


def test_a_record_never_replaces_another_files_document(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    note = docs / "note.md"
    note.write_text("# Note\n\nThe original note about glaciers.\n")
    store = FakeStore()
    assert _ingest([docs], store).added == 1
    taken = file_doc_id(note)
    hostile = _lines(tmp_path / "hostile.jsonl",
                     json.dumps({"_id": taken, "text": "Replaced text."}),
                     json.dumps({"_id": "mine", "text": "A record of its own."}))
    report = _ingest([hostile], store)
    assert report.changed == 0 and report.added == 1
    assert "has the form of a file's document id" in report.errors[0]
    assert store.docs[taken][0].text.endswith("The original note about glaciers.")
    # nor another corpus's record, in a later run
    other = _lines(tmp_path / "other.jsonl", json.dumps({"_id": "mine", "text": "Stolen."}))
    report = _ingest([other], store)
    assert report.changed == 0 and report.added == 0 and len(report.errors) == 1
    assert str(hostile) in report.errors[0] and "never replace" in report.errors[0]
    assert store.docs["mine"][0].text == "A record of its own."
