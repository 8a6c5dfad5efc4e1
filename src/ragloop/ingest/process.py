"""The per-document stage and the embedding stage of ingestion.

``DocumentStage`` turns one planned document into its chunks and questions (chunk, enrich,
measure): a function of the document and the settings only, with no store access. Its inputs
and outputs pickle, and so does the stage itself (models are rebuilt from their settings in
the process that unpickles it), so a pool of workers can run it; ``ProcessBatch`` runs it
and the embedder over a batch of documents, which is the unit a worker receives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ragloop.config import EmbedderSettings, IngestSettings, LLMSettings
from ragloop.errors import IngestError
from ragloop.ingest.chunk import ChunkBuilder
from ragloop.ingest.enrich import Enricher
from ragloop.models.embedder import Embedder
from ragloop.models.llm import LLMClient
from ragloop.records import Chunk, Document, Question

NO_CHUNKS = ("nothing to index: the chunker made no chunks of it (the document holds only "
             "headings, no text under them)")


@dataclass(frozen=True)
class ModelSpec:
    """How to build the embedder (and the enrichment LLM) in a worker: settings, not objects,
    so it pickles; the models are loaded once per worker and kept."""

    embedder: EmbedderSettings
    llm: LLMSettings | None = None
    cache_dir: str | None = None
    use_cache: bool = True
    threads: int = 1  # per worker: N workers of one thread each share N cores

    def build(self) -> tuple[Embedder, LLMClient | None]:
        from ragloop.models.factory import build_embedder, build_llm

        cache = Path(self.cache_dir) if self.cache_dir else None
        embedder = build_embedder(self.embedder, cache, n_threads=self.threads)
        llm = None
        if self.llm is not None:
            llm = build_llm(self.llm.model_copy(update={"n_threads": self.threads}), cache,
                            use_cache=self.use_cache)
        return embedder, llm


@dataclass
class Processed:
    """One document after the per-document stage (and, in a worker, embedding)."""

    doc_id: str
    chunks: list[Chunk] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    chunk_vectors: np.ndarray | None = None
    question_vectors: np.ndarray | None = None
    error: str | None = None  # "source: cause"; the document is not indexed this run


@dataclass
class BatchResult:
    items: list[Processed]
    seconds: dict[str, float]  # chunk, enrich, embed
    warnings: list[str]  # enrichment warnings
    llm_usage: dict[str, float]  # what the batch cost the LLM (its usage delta)


class DocumentStage:
    """Chunk and enrich one document. Built either from model objects (in-process) or from a
    ``ModelSpec`` (in a worker); pickling keeps the spec (or the objects, when they pickle)
    and drops what was built from them."""

    def __init__(self, settings: IngestSettings, *, contextual: bool, questions_per_chunk: int,
                 embedder: Embedder | None = None, llm: LLMClient | None = None,
                 models: ModelSpec | None = None):
        if embedder is None and models is None:
            raise ValueError("DocumentStage needs an embedder or a ModelSpec")
        self.settings = settings
        self.contextual = contextual
        self.questions_per_chunk = questions_per_chunk
        self.models = models
        self._embedder, self._llm = embedder, llm
        self._builder: ChunkBuilder | None = None
        self._enricher: Enricher | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_builder"] = state["_enricher"] = None
        if self.models is not None:
            state["_embedder"] = state["_llm"] = None
        return state

    def _ready(self) -> None:
        if self._builder is not None:
            return
        if self._embedder is None:
            self._embedder, self._llm = self.models.build()
        self._builder = ChunkBuilder(self.settings, self._embedder, contextual=self.contextual)
        if self._llm is not None and (self.contextual or self.questions_per_chunk):
            self._enricher = Enricher(self._llm, contextual=self.contextual,
                                      questions_per_chunk=self.questions_per_chunk)

    @property
    def embedder(self) -> Embedder:
        self._ready()
        return self._embedder

    @property
    def llm(self) -> LLMClient | None:
        self._ready()
        return self._llm

    @property
    def enricher(self) -> Enricher | None:
        self._ready()
        return self._enricher

    def __call__(self, document: Document, seconds: dict[str, float] | None = None
                 ) -> Processed:
        self._ready()
        seconds = seconds if seconds is not None else {}
        builder, enricher = self._builder, self._enricher
        try:
            with _timed(seconds, "chunk"):
                chunks = builder.chunks(document)
            if not chunks:  # a store holds no document without chunks: its error, not the run's
                raise IngestError(document.source, NO_CHUNKS)
            questions: list[Question] = []
            if enricher is not None:
                with _timed(seconds, "enrich"):
                    if enricher.contextual:
                        chunks = [builder.with_context(c, enricher.context(document, c))
                                  for c in chunks]
                    if enricher.n_questions:
                        questions = [q for c in chunks for q in enricher.questions(document, c)]
            with _timed(seconds, "chunk"):
                chunks = builder.measured(chunks)
        except IngestError as err:
            return Processed(document.id, error=str(err))
        return Processed(document.id, chunks, questions)


EMBED_SLICE = 64  # chunks per embedder call, so a long batch reports progress as it goes


def embed(embedder: Embedder, items: Sequence[Processed],
          on_embedded: Callable[[int], None] | None = None) -> None:
    """Vectors for the chunks and questions of ``items``; chunks go to the embedder in
    slices of ``EMBED_SLICE`` (the embedder batches inside each), and ``on_embedded`` hears
    how many chunks each slice held."""
    done = [p for p in items if p.error is None]
    texts = [c.dense_text for p in done for c in p.chunks]
    parts = []
    for start in range(0, len(texts), EMBED_SLICE):
        parts.append(embedder.embed_passages(texts[start:start + EMBED_SLICE]))
        if on_embedded is not None:
            on_embedded(len(parts[-1]))
    vectors = np.concatenate(parts) if parts else embedder.embed_passages([])
    qtexts = [q.text for p in done for q in p.questions]
    qvectors = embedder.embed_queries(qtexts) if qtexts else None
    at = qat = 0
    for p in done:
        p.chunk_vectors = vectors[at:at + len(p.chunks)]
        at += len(p.chunks)
        if p.questions:
            p.question_vectors = qvectors[qat:qat + len(p.questions)]
            qat += len(p.questions)


class ProcessBatch:
    """What a worker does with one batch of planned documents: the per-document stage for
    each, then one batched embedding. ``on_embedding`` and ``on_embedded`` (in-process only;
    not pickled) hear what is being embedded and how far it got, for progress."""

    def __init__(self, stage: DocumentStage,
                 on_embedding: Callable[[int, str], None] | None = None,
                 on_embedded: Callable[[int], None] | None = None):
        self.stage = stage
        self.on_embedding = on_embedding
        self.on_embedded = on_embedded

    def __getstate__(self) -> dict:
        return {"stage": self.stage, "on_embedding": None, "on_embedded": None}

    def __call__(self, documents: Sequence[Document]) -> BatchResult:
        seconds = {"chunk": 0.0, "enrich": 0.0, "embed": 0.0}
        enricher = self.stage.enricher
        warnings_before = len(enricher.stats.warnings) if enricher else 0
        llm = self.stage.llm
        usage_before = llm.usage.as_dict() if llm is not None else {}
        items = [self.stage(document, seconds) for document in documents]
        if self.on_embedding is not None:
            biggest = max(zip(items, documents, strict=True), key=lambda p: len(p[0].chunks),
                          default=None)
            self.on_embedding(sum(len(p.chunks) for p in items),
                              biggest[1].source if biggest else "")
        with _timed(seconds, "embed"):
            embed(self.stage.embedder, items, self.on_embedded)
        usage = {}
        if llm is not None:
            after = llm.usage.as_dict()
            usage = {k: after[k] - usage_before.get(k, 0) for k in after}
        warnings = enricher.stats.warnings[warnings_before:] if enricher else []
        return BatchResult(items, seconds, list(warnings), usage)


class _timed:
    def __init__(self, seconds: dict[str, float], stage: str):
        self.seconds, self.stage = seconds, stage

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *exc):
        self.seconds[self.stage] = self.seconds.get(self.stage, 0.0) + (
            time.perf_counter() - self.start)
