"""The typed records that flow through ragloop.

Records are immutable values (frozen pydantic models). Stores own persistence; functions
return new records rather than mutating old ones. This module imports nothing of ragloop.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def content_hash(text: str) -> str:
    """Stable hash of a text, used for change detection and caches."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------- documents


class Section(Record):
    """A heading in a document: its level (1 = top), title, and character span of its body."""

    level: int
    title: str
    start: int
    end: int


class IngestRecipe(Record):
    """How a document's chunks and vectors were made; ``fingerprint`` hashes all of it."""

    fingerprint: str
    chunker: str = ""
    dense_fields: tuple[str, ...] = ()
    lexical_fields: tuple[str, ...] = ()
    contextual: bool = False
    questions_per_chunk: int = 0
    embedder: str = ""  # model id of the embedder that made the vectors ("" in old indexes)


class Bookkeeping(Record):
    """What ingestion records about a document for incremental sync and duplicate detection.
    Kept apart from ``Document.metadata``, which is the user's namespace (filters read it)."""

    file_hash: str | None = None  # sha256 of the file's bytes (single-document files)
    text_hash: str | None = None  # hash of the cleaned text: exact duplicates
    minhash: str | None = None  # encoded MinHash signature: near duplicates
    ingest: IngestRecipe | None = None


class Document(Record):
    id: str
    source: str  # path or URI the document came from
    title: str
    text: str
    content_hash: str
    mtime: float | None = None
    sections: tuple[Section, ...] = ()
    # page starts (character offsets) for paged formats such as PDF; page n starts at pages[n-1]
    pages: tuple[int, ...] = ()
    metadata: dict[str, Any] = Field(default_factory=dict)
    bookkeeping: Bookkeeping = Bookkeeping()


class Chunk(Record):
    id: str
    doc_id: str
    ordinal: int  # position within the document
    text: str  # the chunk's own text, as cut from the document
    start: int = 0  # character span in the document text
    end: int = 0
    section_path: tuple[str, ...] = ()
    page: int | None = None
    context: str = ""  # LLM-written situating sentence(s), empty when not enriched
    header: str = ""  # deterministic header: document title and section path
    dense_text: str = ""  # the text that is embedded (header/context/text per config)
    lexical_text: str = ""  # the text that BM25 indexes
    n_tokens: int = 0  # size in the embedder's tokens
    metadata: dict[str, Any] = Field(default_factory=dict)


class Question(Record):
    """A hypothetical question a chunk answers, indexed on its own and pointing to the chunk."""

    id: str
    chunk_id: str
    doc_id: str
    text: str


# ----------------------------------------------------------------------------- retrieval


class Candidate(Record):
    """One retrieved chunk. ``scores`` and ``ranks`` keep each signal, keyed by retriever name,
    so fusion, ``--explain`` and evals can see where a result came from."""

    chunk: Chunk
    score: float
    scores: dict[str, float] = Field(default_factory=dict)
    ranks: dict[str, int] = Field(default_factory=dict)
    matched_question: str | None = None


# ----------------------------------------------------------------------------- models


Role = Literal["system", "user", "assistant"]


class Message(Record):
    role: Role
    content: str


class Completion(Record):
    text: str
    parsed: Any = None  # the JSON value when a schema was requested
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    model: str = ""
    finish_reason: str | None = None
    cached: bool = False


class LLMCall(Record):
    """What one model call cost, recorded by strategies and traces."""

    purpose: str  # e.g. "answer", "vote-3", "judge-faithfulness"
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cached: bool = False


# ----------------------------------------------------------------------------- answers


class Citation(Record):
    marker: int  # the n of "[n]" in the answer text
    chunk_id: str
    doc_id: str
    source: str
    title: str = ""
    quote: str = ""


class Answer(Record):
    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    strategy: str = "direct"
    refused: bool = False
    confidence: float | None = None
    calls: tuple[LLMCall, ...] = ()
    latency_s: float = 0.0
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def prompt_tokens(self) -> int:
        return sum(c.prompt_tokens for c in self.calls)

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.calls)


# ----------------------------------------------------------------------------- traces & feedback


class Span(Record):
    name: str  # retrieve | rerank | generate | judge | ...
    start: datetime
    end: datetime
    attributes: dict[str, Any] = Field(default_factory=dict)


class Trace(Record):
    id: str
    created: datetime
    question: str
    answer: str
    strategy: str
    spans: tuple[Span, ...] = ()
    retrieved_ids: tuple[str, ...] = ()
    metadata: dict[str, Any] = Field(default_factory=dict)


class Feedback(Record):
    id: str
    trace_id: str
    created: datetime
    rating: Literal["up", "down"] | None = None
    corrected_answer: str | None = None
    comment: str | None = None


# ----------------------------------------------------------------------------- evals


class EvalExample(Record):
    id: str
    question: str
    reference_answers: tuple[str, ...] = ()
    label: str | None = None  # short categorical answer, e.g. yes/no/maybe
    gold_doc_ids: tuple[str, ...] = ()
    gold_chunk_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = Field(default_factory=dict)
