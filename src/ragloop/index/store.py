"""The ``Store`` protocol: what ingestion writes and retrieval reads.

The embedded store and any server store implement this and pass the same contract tests
(``tests/index/test_store_contract.py``). Writes go through a ``StoreWriter`` obtained from
``store.writer()``: nothing a writer does is visible until its ``commit()``, and a crash
before that leaves the previous index complete and searchable.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args, runtime_checkable

import numpy as np

from ragloop.errors import StoreError
from ragloop.records import Bookkeeping, Chunk, Document, Question

LEGACY_BOOKKEEPING_KEYS = ("file_hash", "text_hash", "minhash", "ingest")

Target = Literal["chunks", "questions"]
TARGETS: tuple[Target, ...] = get_args(Target)  # what a store indexes, each searchable


@dataclass(frozen=True)
class Filters:
    """Metadata filters, honoured by every search. Empty filters match everything."""

    sources: tuple[str, ...] = ()  # exact document sources
    path_glob: str | None = None  # fnmatch pattern on the document source
    modified_after: float | None = None  # unix time, inclusive
    modified_before: float | None = None  # unix time, exclusive
    fields: dict[str, Any] = field(default_factory=dict)  # document metadata equality

    def is_empty(self) -> bool:
        return not (self.sources or self.path_glob or self.modified_after is not None
                    or self.modified_before is not None or self.fields)

    def matches(self, source: str, mtime: float | None, metadata: dict[str, Any]) -> bool:
        if self.sources and source not in self.sources:
            return False
        if self.path_glob and not fnmatch.fnmatch(source, self.path_glob):
            return False
        if self.modified_after is not None and (mtime is None or mtime < self.modified_after):
            return False
        if self.modified_before is not None and (mtime is None or mtime >= self.modified_before):
            return False
        return all(metadata.get(key) == value for key, value in self.fields.items())


@dataclass(frozen=True)
class DocumentEntry:
    """What the store knows of one ingested document, for incremental sync."""

    doc_id: str
    source: str
    content_hash: str
    title: str
    mtime: float | None
    n_chunks: int
    n_questions: int
    metadata: dict[str, Any] = field(default_factory=dict)
    bookkeeping: Bookkeeping = Bookkeeping()


def split_bookkeeping(metadata: dict[str, Any],
                      stored: dict[str, Any] | None = None) -> tuple[dict[str, Any], Bookkeeping]:
    """(user metadata, bookkeeping) of a stored document. Indexes written before bookkeeping
    had its own field kept it in the metadata under ``LEGACY_BOOKKEEPING_KEYS``: those keys
    are moved out, so old indexes load and their documents stay unchanged for sync."""
    if stored:
        return metadata, Bookkeeping.model_validate(stored)
    if not any(key in metadata for key in LEGACY_BOOKKEEPING_KEYS):
        return metadata, Bookkeeping()
    user = {k: v for k, v in metadata.items() if k not in LEGACY_BOOKKEEPING_KEYS}
    legacy = {k: metadata[k] for k in LEGACY_BOOKKEEPING_KEYS if k in metadata}
    recipe = legacy.get("ingest")
    if isinstance(recipe, dict) and "fingerprint" in recipe:
        legacy["ingest"] = {k: v for k, v in recipe.items()
                            if k in ("fingerprint", "chunker", "dense_fields", "lexical_fields",
                                     "contextual", "questions_per_chunk", "embedder")}
    else:
        legacy.pop("ingest", None)
    return user, Bookkeeping.model_validate(legacy)


@dataclass(frozen=True)
class StoredDocument:
    """One document as a store holds it: what ``replace_document`` takes, vectors included,
    so an index can be copied to another store without embedding again. The document's
    full text is not stored (``text`` is empty)."""

    document: Document
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    questions: list[Question] = field(default_factory=list)
    question_vectors: np.ndarray | None = None

    def as_args(self) -> tuple:
        return (self.document, self.chunks, self.chunk_vectors, self.questions,
                self.question_vectors)


@runtime_checkable
class StoreWriter(Protocol):
    def replace_document(self, document: Document, chunks: Sequence[Chunk],
                         chunk_vectors: np.ndarray, questions: Sequence[Question] = (),
                         question_vectors: np.ndarray | None = None) -> None:
        """Stage the document and all its chunks/questions, replacing any earlier version."""
        ...

    def delete_document(self, doc_id: str) -> None: ...

    def set_bookkeeping(self, doc_id: str, bookkeeping: Bookkeeping) -> None:
        """Stage new ingest bookkeeping for a stored document, its chunks untouched (a file
        whose loader changed but whose text did not gets its new file key). No such
        document: nothing happens."""
        ...

    def entries(self, doc_ids: Sequence[str]) -> dict[str, DocumentEntry]:
        """The stored entries of ``doc_ids`` as this writer's transaction sees them (it holds
        the write lock: no other writer commits between this read and ``commit()``), so a
        caller can tell what another writer committed since it planned."""
        ...

    def commit(self) -> None:
        """Make every staged change visible at once (atomic)."""
        ...

    def rollback(self) -> None: ...

    def set_index_info(self, **info: Any) -> None:
        """Stage index-level metadata (JSON-serialisable values; ``None`` removes a key),
        made visible by the same ``commit()`` as the documents staged beside it."""
        ...

    def __enter__(self) -> StoreWriter: ...

    def __exit__(self, exc_type, exc, tb) -> None:
        """Commit when the block succeeded, roll back when it raised."""
        ...


class CommitOnExit:
    """``with writer:`` for a ``StoreWriter``: commit when the block succeeded, roll back
    when it raised."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


class RecordsById:
    """``get_chunks``/``get_questions`` for a store that keeps each record's JSON by id: the
    store provides ``_get(table, ids) -> {id: json}``; records come back in the order asked,
    unknown ids left out."""

    def _get(self, table: str, ids: Sequence[str]) -> dict[str, str]:
        raise NotImplementedError

    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        found = self._get("chunks", chunk_ids)
        return [Chunk.model_validate_json(found[i]) for i in chunk_ids if i in found]

    def get_questions(self, question_ids: Sequence[str]) -> list[Question]:
        found = self._get("questions", question_ids)
        return [Question.model_validate_json(found[i]) for i in question_ids if i in found]


@runtime_checkable
class Store(Protocol):
    def writer(self) -> StoreWriter: ...

    def documents(self) -> Iterator[DocumentEntry]: ...

    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]: ...

    def get_questions(self, question_ids: Sequence[str]) -> list[Question]: ...

    def lexical_search(self, query: str, k: int, filters: Filters | None = None, *,
                       target: Target = "chunks") -> list[tuple[str, float]]:
        """(id, score) best first; ids are chunk ids or question ids per ``target``."""
        ...

    def vector_search(self, vector: np.ndarray, k: int, filters: Filters | None = None, *,
                      target: Target = "chunks") -> list[tuple[str, float]]: ...

    def export(self, batch: int = 256) -> Iterator[StoredDocument]:
        """Every document with its chunks, questions and vectors, in insertion order."""
        ...

    def index_info(self) -> dict[str, Any]:
        """Index-level metadata as last committed (e.g. which embedder built the vectors)."""
        ...

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None:
        """Release connections and files; any later call raises ``StoreError``."""
        ...


def vector_dim(document_id: str, known: int | None,
               *vectors: tuple[str, np.ndarray | None]) -> int | None:
    """The index's vector dimension once this document is written: ``known``, or the width
    of the document's first non-empty vectors when the index has none yet. Vectors of any
    other width are refused before anything is written."""
    dim = known
    for what, matrix in vectors:
        if matrix is None or matrix.shape[0] == 0:
            continue
        if dim is None:
            dim = int(matrix.shape[1])
        elif matrix.shape[1] != dim:
            raise StoreError(f"document {document_id}: {what} have dimension "
                             f"{matrix.shape[1]}, the index has {dim}")
    return dim


def checked_document_input(document: Document, chunks: Sequence[Chunk], chunk_vectors,
                           questions: Sequence[Question] = (), question_vectors=None
                           ) -> tuple[np.ndarray, np.ndarray | None]:
    """The input of ``StoreWriter.replace_document`` as float32 matrices, refused before any
    write when the document has no chunks or a chunk or question does not belong to it:
    every backend checks it the same way. (Ingestion never sends a document without chunks:
    it is that document's error, ``ingest.process.DocumentStage``.)"""
    if not chunks:
        raise StoreError(f"document {document.id} has no chunks ({document.source}); a "
                         "document is stored with at least one")
    chunk_vectors = np.asarray(chunk_vectors, dtype=np.float32).reshape(len(chunks), -1)
    if question_vectors is not None:
        question_vectors = np.asarray(question_vectors,
                                      dtype=np.float32).reshape(len(questions), -1)
    chunk_ids = {c.id for c in chunks}
    for chunk in chunks:
        if chunk.doc_id != document.id:
            raise StoreError(f"chunk {chunk.id} belongs to {chunk.doc_id}, not to "
                             f"document {document.id}")
    for question in questions:
        if question.chunk_id not in chunk_ids:
            raise StoreError(f"question {question.id} points to chunk "
                             f"{question.chunk_id}, which is not in document {document.id}")
    return chunk_vectors, question_vectors
