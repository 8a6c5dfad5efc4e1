"""Contextual chunks and hypothetical questions written by the real embedded LLM, and the
re-run that costs no model calls because the prompts are deterministic (kept to one chunk:
the model is slow on a shared CPU)."""

from __future__ import annotations

import pytest

from ragloop.config import IngestSettings
from ragloop.index.embedded import open_store
from ragloop.ingest.sync import ingest_paths
from ragloop.models.cache import DiskCache
from ragloop.models.llm import LLMClient

pytestmark = pytest.mark.real_model


def test_real_llm_enrichment_is_indexed_and_cached(real_llm, real_embedder, tmp_path):
    llm = LLMClient(real_llm.backend, DiskCache(tmp_path / "llm.sqlite", table="completions"))
    doc = tmp_path / "volcano.md"
    doc.write_text("# Volcano Facts\n\nAn eruption releases lava, ash and sulfur dioxide. "
                   "Large eruptions can cool the climate for years.\n")
    settings = IngestSettings(contextual=True, questions_per_chunk=1)
    store = open_store(tmp_path / "index")
    report = ingest_paths([doc], settings=settings, store=store, embedder=real_embedder,
                          llm=llm, progress=False)
    assert report.ok and report.chunks == 1
    assert report.llm["cache_misses"] == 2 and report.llm["completion_tokens"] > 0
    (chunk,) = store.get_chunks([f"{next(store.documents()).doc_id}#0"])
    assert chunk.dense_text.startswith("Volcano Facts\n")
    if chunk.context:  # a tiny model may say nothing usable; then it is left out, not faked
        assert chunk.context in chunk.dense_text and chunk.context in chunk.lexical_text
    assert chunk.n_tokens <= real_embedder.max_tokens - 2
    for question in store.get_questions([f"{chunk.id}#q0"]):
        assert question.text.endswith("?") and question.chunk_id == chunk.id
    assert report.questions == len(store.get_questions([f"{chunk.id}#q0"]))

    fresh = open_store(tmp_path / "index2")
    again = ingest_paths([doc], settings=settings, store=fresh, embedder=real_embedder,
                         llm=llm, progress=False)
    assert again.added == 1 and again.llm["calls"] == 2 and again.llm["cache_misses"] == 0
    (same,) = fresh.get_chunks([chunk.id])
    assert same.context == chunk.context
