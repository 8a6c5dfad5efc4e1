"""The plan stage of ingestion: which files and documents are new or changed, which are
duplicates, which indexed documents are stale — decided from what the store already holds,
before any chunking or embedding.

A document is unchanged when the store holds it with the same content hash *and* the same
ingest fingerprint (chunker, sizes, fields, enrichment, models), so a config change
re-processes what it affects. A single-document file whose bytes hash matches the store is
not even parsed. Paths that cannot be read (a folder without permission) are errors, and no
document under them is ever pruned.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ragloop.config import IngestSettings
from ragloop.errors import IngestError
from ragloop.index.store import DocumentEntry
from ragloop.ingest.chunkers import CHUNKERS
from ragloop.ingest.clean import DuplicateFilter
from ragloop.ingest.enrich import PROMPT_VERSION
from ragloop.ingest.loaders import (
    WalkProblem,
    file_doc_id,
    iter_path,
    loader_for,
    read_file,
    walk,
)
from ragloop.ingest.loaders.base import file_key
from ragloop.ingest.observe import IngestObserver
from ragloop.ingest.report import FileResult
from ragloop.records import Bookkeeping, Document, IngestRecipe, content_hash


def ingest_fingerprint(settings: IngestSettings, embedder_id: str, max_tokens: int,
                       llm_id: str | None, *, contextual: bool, questions_per_chunk: int) -> str:
    """A hash of everything that decides what a document's chunks and vectors are."""
    recipe = {"chunker": settings.chunker,
              "chunker_version": getattr(CHUNKERS.get(settings.chunker), "version", 1),
              "chunk_tokens": settings.chunk_tokens,
              "overlap_tokens": settings.overlap_tokens,
              "dense_fields": settings.dense_fields, "lexical_fields": settings.lexical_fields,
              "embedder": embedder_id, "max_tokens": max_tokens,
              "contextual": contextual, "questions_per_chunk": questions_per_chunk}
    if settings.chunker == "semantic":
        recipe["semantic_threshold"] = settings.semantic_threshold
    if contextual or questions_per_chunk:
        recipe["llm"] = llm_id or ""
        recipe["prompts"] = PROMPT_VERSION
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


class Known(NamedTuple):
    """What the plan needs of an indexed document (kept small: one per indexed document)."""

    content_hash: str
    fingerprint: str | None
    file_hash: str | None
    path: str


@dataclass
class Planned:
    """A new or changed document, ready for the per-document stage."""

    document: Document
    result: FileResult
    status: str  # "added" | "changed"
    duplicate_of: str | None = None


class FoundFiles(NamedTuple):
    files: list[Path]
    errors: list[tuple[Path, str]]  # (path, error): folders that cannot be read, bad roots
    notes: list[str]  # links not followed


def find_files(roots: Iterable[Path], settings: IngestSettings) -> FoundFiles:
    """The files to ingest under ``roots``. A root that does not exist and every folder under
    a root that cannot be read or searched is an error, never a silent skip; a link out of
    a folder that is not followed is a note."""
    found = FoundFiles([], [], [])
    for root in roots:
        problems: list[WalkProblem] = []
        try:
            found.files.extend(walk([root], settings.include, settings.exclude,
                                    follow_symlinks=settings.follow_symlinks,
                                    problems=problems))
        except IngestError as err:
            found.errors.append((Path(root), str(err)))
        for problem in problems:
            if problem.error:
                found.errors.append((problem.path, problem.message))
            else:
                found.notes.append(problem.message)
    return found


def scoped_doc_id(namespace: str, path: Path, doc_id: str, *, multi_document: bool) -> str:
    """A document id inside ``namespace``, per source file: ``ns:file`` for a file that is
    one document, ``ns:file#record`` for a record of a multi-document file. Documents
    ingested under a namespace can only replace documents of the same file and namespace."""
    return f"{namespace}:{path.name}#{doc_id}" if multi_document else f"{namespace}:{path.name}"


class Planner:
    def __init__(self, settings: IngestSettings, entries: Iterable[DocumentEntry],
                 recipe: IngestRecipe, *, namespace: str | None = None):
        self.settings = settings
        self.recipe = recipe
        self.namespace = namespace
        self.known: dict[str, Known] = {}
        self.dedup = DuplicateFilter(settings.near_duplicate_threshold)
        for entry in entries:
            kept = entry.bookkeeping
            self.known[entry.doc_id] = Known(
                entry.content_hash, kept.ingest.fingerprint if kept.ingest else None,
                kept.file_hash, entry.metadata.get("path", entry.source))
            if kept.text_hash is not None:
                self.dedup.remember(entry.doc_id, kept.text_hash,
                                    self.dedup.decode(kept.minhash) if kept.minhash else None)
        self.seen_ids: set[str] = set()
        self.troubled: set[str] = set()  # files with errors and unreadable folders: kept
        # unchanged documents whose file key changed (a new loader version, same text): the
        # new key is stored so the next run skips the file unparsed again
        self.refreshes: list[tuple[str, Bookkeeping]] = []

    @property
    def load_limits(self) -> dict:
        return {"max_file_mb": self.settings.max_file_mb,
                "max_unpacked_mb": self.settings.max_unpacked_mb,
                "max_archive_members": self.settings.max_archive_members,
                "max_text_chars": self.settings.max_record_chars,
                "max_table_rows": self.settings.max_table_rows,
                "ocr": self.settings.ocr, "ocr_dpi": self.settings.ocr_dpi,
                "ocr_min_confidence": self.settings.ocr_min_confidence,
                "ocr_max_pages": self.settings.ocr_max_pages}

    def mark_troubled(self, path: Path) -> None:
        self.troubled.add(str(Path(path).resolve()))

    def _is_current(self, entry: Known | None, document: Document | None = None,
                    file_hash: str | None = None) -> bool:
        if entry is None or entry.fingerprint != self.recipe.fingerprint:
            return False
        if file_hash is not None:
            return entry.file_hash == file_hash
        return document is not None and entry.content_hash == document.content_hash

    def _items(self, path: Path, result: FileResult) -> Iterator:
        """The file's documents and record errors; nothing when its bytes are unchanged."""
        if loader_for(path).multi_document:
            yield from iter_path(path, **self.load_limits)
            return
        data = read_file(path, self.settings.max_file_mb)
        doc_id = self._doc_id(path, file_doc_id(path))
        if self._is_current(self.known.get(doc_id),
                            file_hash=file_key(path, data)):
            self.seen_ids.add(doc_id)
            result.unchanged += 1
            return
        yield from iter_path(path, **self.load_limits, data=data)

    def _doc_id(self, path: Path, doc_id: str) -> str:
        if self.namespace is None:
            return doc_id
        return scoped_doc_id(self.namespace, path, doc_id,
                             multi_document=loader_for(path).multi_document)

    def plan_file(self, path: Path, result: FileResult,
                  observer: IngestObserver | None = None) -> Iterator[Planned | None]:
        """The file's new or changed documents; ``None`` for each unchanged one (so callers
        can count them). Errors go to ``result`` and mark the file as troubled. ``observer``
        hears the seconds spent reading/parsing ("parse") and hashing/deduplicating
        ("clean")."""
        observer = observer or IngestObserver()
        items = self._items(path, result)
        try:
            while True:
                start = time.perf_counter()
                item = _next_item(items, path)
                observer.stage_seconds("parse", time.perf_counter() - start)
                if item is None:
                    return
                if isinstance(item, IngestError):
                    result.errors.append(str(item))
                    self.mark_troubled(path)
                    continue
                if self.namespace is not None:
                    item = item.model_copy(update={"id": self._doc_id(path, item.id)})
                start = time.perf_counter()
                planned = self._plan(item, result)
                observer.stage_seconds("clean", time.perf_counter() - start)
                yield planned
        except IngestError as err:
            result.errors.append(str(err))
            self.mark_troubled(path)

    def _plan(self, document: Document, result: FileResult) -> Planned | None:
        if document.metadata.get("contents_page"):
            # a table of contents or an index names every section and would outrank them;
            # not seen, so a copy indexed before is stale (pruned with --prune)
            result.warnings.append(f"{document.source}: a contents or index page (mostly "
                                   "links); left out of the index")
            return None
        if document.id in self.seen_ids:
            result.errors.append(f"{document.source}: document id '{document.id}' was "
                                 "already seen in this run; this copy is skipped")
            return None
        self.seen_ids.add(document.id)
        entry = self.known.get(document.id)
        if entry is not None and (owner := self._other_owner(entry, document)):
            result.errors.append(f"{document.source}: document id '{document.id}' is held by "
                                 f"a document of {owner}; a file's documents never replace "
                                 "another file's, so this one is not indexed")
            self.mark_troubled(Path(document.metadata.get("path", document.source)))
            return None
        if self._is_current(entry, document):
            result.unchanged += 1
            new_key = document.metadata.get("file_hash")
            if new_key is not None and entry.file_hash != new_key:
                text_hash = content_hash(document.text)
                signature = self.dedup.signature(document.text)
                self.refreshes.append((document.id, Bookkeeping(
                    file_hash=new_key, text_hash=text_hash,
                    minhash=self.dedup.encode(signature), ingest=self.recipe)))
            return None
        if len(document.text) > self.settings.max_record_chars:
            # a record this size would hold the chunker and the tokenizer for minutes
            result.errors.append(f"{document.source}: {len(document.text):,} characters, over "
                                 f"[ingest] max_record_chars ({self.settings.max_record_chars:,})"
                                 "; not indexed")
            self.mark_troubled(Path(document.metadata.get("path", document.source)))
            return None
        result.warnings += [w for w in document.metadata.get("warnings", ())
                            if isinstance(w, str)]
        text_hash = content_hash(document.text)
        signature = self.dedup.signature(document.text)
        duplicate = self.dedup.check(document.id, text_hash, signature)
        if duplicate is None:
            self.dedup.remember(document.id, text_hash, signature)
        metadata = dict(document.metadata)
        # loaders put the file hash with the file's metadata; it is bookkeeping
        file_hash = metadata.pop("file_hash", None) or document.bookkeeping.file_hash
        document = document.model_copy(update={"metadata": metadata, "bookkeeping": Bookkeeping(
            file_hash=file_hash, text_hash=text_hash, minhash=self.dedup.encode(signature),
            ingest=self.recipe)})
        planned = Planned(document, result, "changed" if entry else "added")
        if duplicate is not None:
            planned.duplicate_of = duplicate.of
            result.warnings.append(f"{document.source}: {duplicate.kind} duplicate of "
                                   f"document {duplicate.of} ("
                                   f"{'skipped' if self.settings.dedup == 'skip' else 'kept'})")
        return planned

    @staticmethod
    def _other_owner(entry: Known, document: Document) -> str | None:
        """The file that holds ``document``'s id when it is another file that still exists
        (a record whose ``_id`` is another corpus's, or a file's); None when the id is this
        file's own, or its old file is gone (the file was moved)."""
        path = document.metadata.get("path", document.source)
        if entry.path == path or not Path(entry.path).exists():
            return None
        return entry.path

    def stale_documents(self, roots: Iterable[Path]) -> list[str]:
        """Stored documents from under ``roots`` that this run did not see, except those of
        files that had errors and those under folders that could not be read (they may be
        back once the file or the permission is fixed)."""
        prefixes = []
        for root in roots:
            resolved = Path(root).resolve()
            prefixes.append((str(resolved), resolved.is_dir() or not resolved.exists()))
        troubled_dirs = [t.rstrip("/") + "/" for t in self.troubled]
        stale = []
        for doc_id, entry in self.known.items():
            path = entry.path
            if doc_id in self.seen_ids or path in self.troubled \
                    or any(path.startswith(t) for t in troubled_dirs):
                continue
            if any(path == p or (is_dir and path.startswith(p.rstrip("/") + "/"))
                   for p, is_dir in prefixes):
                stale.append(doc_id)
        return stale


def _next_item(items: Iterator, path: Path):
    """The next document or record error; a parser's own exception on a malformed file
    becomes an ``IngestError`` for that file, so the run goes on."""
    try:
        return next(items, None)
    except IngestError:
        raise
    except Exception as err:  # noqa: BLE001 - third-party parsers raise anything on bad input
        raise IngestError(path, f"cannot parse: {type(err).__name__}: {err}") from None
