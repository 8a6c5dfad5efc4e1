"""Limits on what is tokenised (issue 11, item 5): a record over [ingest] max_record_chars is
that record's error and the rest of its batch commits; the chunker never hands a huge text
to the tokenizer in one piece."""

from __future__ import annotations

import json

from fakes import FakeEmbedder
from ingest.fake_store import FakeStore
from ragloop.config import IngestSettings
from ragloop.ingest.sync import ingest_paths


class RecordingEmbedder(FakeEmbedder):
    """The fake embedder, named as such, remembering the longest text it was asked to count."""

    longest = 0

    def count_tokens_batch(self, texts):
        texts = list(texts)
        self.longest = max([self.longest, *map(len, texts)])
        return super().count_tokens_batch(texts)


def _corpus(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_an_oversize_record_is_its_own_error_and_the_batch_commits(tmp_path):
    corpus = _corpus(tmp_path / "corpus.jsonl", [
        {"_id": "small1", "title": "Bees", "text": "Honey bees dance to point at flowers."},
        {"_id": "huge", "title": "Huge", "text": "word " * 3000},
        {"_id": "small2", "title": "Owls", "text": "Owls turn their heads far around."}])
    store = FakeStore()
    report = ingest_paths([corpus], settings=IngestSettings(max_record_chars=5000),
                          store=store, embedder=FakeEmbedder(), progress=False)
    assert set(store.docs) == {"small1", "small2"}
    assert report.added == 2 and report.failed == 1
    assert "huge" not in store.docs
    assert "max_record_chars" in report.errors[0] and "14,999 characters" in report.errors[0]


def test_chunking_a_long_single_line_record_counts_tokens_in_windows(tmp_path):
    text = " ".join(f"token{i % 977}" for i in range(60_000))  # ~590k characters, one line
    corpus = _corpus(tmp_path / "corpus.jsonl", [{"_id": "long", "title": "", "text": text}])
    embedder = RecordingEmbedder()
    store = FakeStore()
    report = ingest_paths([corpus], settings=IngestSettings(), store=store, embedder=embedder,
                          progress=False)
    assert report.ok and report.added == 1
    assert embedder.longest <= embedder.max_tokens * 8  # never the whole record at once
    chunks = store.chunks()
    assert all(c.n_tokens <= embedder.max_tokens for c in chunks)
    chunks.sort(key=lambda c: c.ordinal)
    assert chunks[0].start == 0 and chunks[-1].end == len(text)  # the whole record is indexed
    assert all(b.start <= a.end for a, b in zip(chunks, chunks[1:], strict=False))
