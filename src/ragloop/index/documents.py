"""The documents an index holds, found by id, path or title: the one listing that
``ragloop documents`` and the MCP server's tools both call.

A pattern with ``*``, ``?`` or ``[`` is a glob against the whole path or title; anything else
is a case-insensitive substring of either.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

from ragloop.errors import StoreError
from ragloop.index.store import DocumentEntry, Store
from ragloop.records import Chunk


class UnknownDocumentError(StoreError):
    """No indexed document answers to ``key``."""

    def __init__(self, key: str, message: str | None = None):
        self.key = key
        super().__init__(message or f"no indexed document has the id {key!r}")


class AmbiguousDocumentError(StoreError):
    """More than one indexed document matches ``key``; ``matches`` are their sources."""

    def __init__(self, key: str, matches: list[str]):
        self.key = key
        self.matches = matches
        names = ", ".join(matches[:5]) + (", …" if len(matches) > 5 else "")
        super().__init__(f"{len(matches)} documents match {key!r} ({names}); give its id or "
                         "full path")


def matches(entry: DocumentEntry, pattern: str | None) -> bool:
    """Whether ``entry``'s path or title matches ``pattern`` (None or "": every entry)."""
    if not pattern:
        return True
    fields = (entry.source, entry.title, entry.metadata.get("path", ""))
    if any(ch in pattern for ch in "*?["):
        return any(fnmatch.fnmatch(f.casefold(), pattern.casefold()) for f in fields)
    return any(pattern.casefold() in f.casefold() for f in fields)


def list_documents(store: Store, match: str | None = None) -> list[DocumentEntry]:
    """The documents whose path or title matches ``match``, sorted by path."""
    return sorted((e for e in store.documents() if matches(e, match)), key=lambda e: e.source)


def describe(entry: DocumentEntry) -> dict[str, Any]:
    """One document as JSON: id, source, title, counts, mtime, format."""
    return {"doc_id": entry.doc_id, "source": entry.source, "title": entry.title,
            "chunks": entry.n_chunks, "questions": entry.n_questions, "mtime": entry.mtime,
            "format": entry.metadata.get("format")}


def totals(store: Store) -> dict[str, Any]:
    """Documents, chunks and questions in the index, and its size on disk."""
    stats = store.stats()
    return {key: stats[key] for key in ("documents", "chunks", "questions", "bytes")
            if key in stats}


def get_document(store: Store, doc_id: str) -> DocumentEntry:
    """The entry whose id is exactly ``doc_id`` (``UnknownDocumentError`` if none)."""
    for entry in store.documents():
        if entry.doc_id == doc_id:
            return entry
    raise UnknownDocumentError(doc_id)


def find_document(store: Store, key: str) -> DocumentEntry:
    """The entry whose id is ``key``, or whose source is the file ``key`` names (as given or
    resolved), or the only one whose path or title contains ``key``. Raises
    ``UnknownDocumentError`` or ``AmbiguousDocumentError``."""
    entries = list(store.documents())
    for entry in entries:
        if entry.doc_id == key:
            return entry
    resolved = str(Path(key).resolve())
    exact = [e for e in entries if key in (e.source, e.metadata.get("path"))
             or resolved in (e.source, e.metadata.get("path"))]
    if len(exact) == 1:
        return exact[0]
    partial = [e for e in entries if matches(e, key)]
    if len(partial) == 1:
        return partial[0]
    if not partial:
        raise UnknownDocumentError(key, f"no indexed document has the id, path or title {key!r}")
    raise AmbiguousDocumentError(key, [e.source for e in partial])


def document_chunks(store: Store, entry: DocumentEntry) -> list[Chunk]:
    """The document's chunks in order."""
    return store.get_chunks([f"{entry.doc_id}#{i}" for i in range(entry.n_chunks)])


def document_text(chunks: list[Chunk]) -> str:
    """The document's text as its chunks hold it, in Markdown: text shared by overlapping
    chunks (``[ingest] overlap_tokens``) is written once, and where a chunk opens a new
    section whose heading it does not hold (chunkers leave headings between chunks), the
    heading is written before it."""
    parts: list[str] = []
    covered = 0
    section: tuple[str, ...] = ()
    for chunk in sorted(chunks, key=lambda c: c.ordinal):
        spans = chunk.end > chunk.start  # chunks written before spans were kept have none
        if spans and chunk.end <= covered:
            continue
        continues = spans and chunk.start < covered and bool(parts)
        text = chunk.text[covered - chunk.start:] if continues else chunk.text
        if chunk.section_path and chunk.section_path != section:
            title = chunk.section_path[-1]
            if not text.lstrip().lstrip("#").lstrip().startswith(title):  # "# Title" too
                parts.append("#" * min(len(chunk.section_path), 6) + " " + title)
                continues = False
        section = chunk.section_path
        if continues:
            parts[-1] += text
        else:
            parts.append(text.strip())
        if spans:
            covered = chunk.end
    return "\n\n".join(parts)
