"""Incremental ingestion: files → documents → chunks (+ context, questions) → vectors →
the store, in batches of ``[ingest] batch_docs`` documents, one store commit per batch.

Only new or changed documents are processed: a document is unchanged when the store holds
it with the same content hash *and* the same ingest fingerprint (chunker, sizes, fields,
enrichment, models), so a config change re-processes what it affects. A single-document
file whose bytes hash matches the store is not even parsed. Because every batch is
committed, an interrupted run resumes where it stopped (committed documents show as
unchanged), and a crash leaves the previous index whole.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ragloop.config import IngestSettings
from ragloop.errors import IngestError
from ragloop.index.store import Store
from ragloop.ingest.chunk import ChunkBuilder
from ragloop.ingest.clean import DuplicateFilter
from ragloop.ingest.enrich import PROMPT_VERSION, Enricher
from ragloop.ingest.loaders import file_doc_id, iter_path, loader_for, read_file, walk
from ragloop.ingest.report import FileResult, IngestReport
from ragloop.models.embedder import Embedder
from ragloop.models.llm import LLMClient
from ragloop.records import Chunk, Document, Question, content_hash

__all__ = ["IngestReport", "FileResult", "ingest_paths", "ingest_fingerprint"]


def ingest_fingerprint(settings: IngestSettings, embedder: Embedder, llm: LLMClient | None,
                       *, contextual: bool, questions_per_chunk: int) -> str:
    """A hash of everything that decides what a document's chunks and vectors are."""
    recipe = {"chunker": settings.chunker, "chunk_tokens": settings.chunk_tokens,
              "overlap_tokens": settings.overlap_tokens,
              "dense_fields": settings.dense_fields, "lexical_fields": settings.lexical_fields,
              "embedder": embedder.model_id, "max_tokens": embedder.max_tokens,
              "contextual": contextual, "questions_per_chunk": questions_per_chunk}
    if settings.chunker == "semantic":
        recipe["semantic_threshold"] = settings.semantic_threshold
    if contextual or questions_per_chunk:
        recipe["llm"] = llm.model_id if llm else ""
        recipe["prompts"] = PROMPT_VERSION
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


class _Known(NamedTuple):
    """What the plan needs of an indexed document (kept small: one per indexed document)."""

    content_hash: str
    fingerprint: str | None
    file_hash: str | None
    path: str


@dataclass
class _Pending:
    document: Document
    result: FileResult
    status: str  # "added" | "changed"
    duplicate_of: str | None = None


@dataclass
class _Batch:
    items: list[_Pending] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items) + len(self.deletions)


def scoped_doc_id(namespace: str, path: Path, doc_id: str, *, multi_document: bool) -> str:
    """A document id inside ``namespace``, per source file: ``ns:file`` for a file that is
    one document, ``ns:file#record`` for a record of a multi-document file. Documents
    ingested under a namespace can only replace documents of the same file and namespace."""
    return f"{namespace}:{path.name}#{doc_id}" if multi_document else f"{namespace}:{path.name}"


class _Run:
    def __init__(self, *, settings: IngestSettings, store: Store, embedder: Embedder,
                 llm: LLMClient | None, enrich: bool, progress: Progress | None,
                 namespace: str | None = None):
        self.settings = settings
        self.namespace = namespace
        self.store = store
        self.embedder = embedder
        self.llm = llm
        self.progress = progress
        self.report = IngestReport()
        wants_llm = settings.contextual or settings.questions_per_chunk > 0
        contextual = enrich and llm is not None and settings.contextual
        n_questions = settings.questions_per_chunk if enrich and llm is not None else 0
        if wants_llm and enrich and llm is None:
            self.report.warnings.append("enrichment is configured but no LLM was given; "
                                        "chunks are not enriched")
        self.enricher = Enricher(llm, contextual=contextual, questions_per_chunk=n_questions) \
            if llm is not None and (contextual or n_questions) else None
        self.builder = ChunkBuilder(settings, embedder, contextual=contextual)
        self.fingerprint = ingest_fingerprint(settings, embedder, llm, contextual=contextual,
                                              questions_per_chunk=n_questions)
        self.report.fingerprint = self.fingerprint
        self.recipe = {"fingerprint": self.fingerprint, "chunker": settings.chunker,
                       "dense_fields": list(settings.dense_fields),
                       "lexical_fields": list(settings.lexical_fields),
                       "contextual": contextual, "questions_per_chunk": n_questions}
        self.known: dict[str, _Known] = {}
        self.dedup = DuplicateFilter(settings.near_duplicate_threshold)
        with self.timed("parse"):
            for entry in store.documents():
                meta = entry.metadata
                self.known[entry.doc_id] = _Known(
                    entry.content_hash, meta.get("ingest", {}).get("fingerprint"),
                    meta.get("file_hash"), meta.get("path", entry.source))
                if "text_hash" in entry.metadata:
                    encoded = entry.metadata.get("minhash")
                    self.dedup.remember(entry.doc_id, entry.metadata["text_hash"],
                                        self.dedup.decode(encoded) if encoded else None)
        self.seen_ids: set[str] = set()
        self.troubled_paths: set[str] = set()  # files with errors: never pruned
        self.batch = _Batch()
        self._doc_task = None  # a progress task counting documents, set by ingest_paths

    @contextmanager
    def timed(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.report.seconds[stage] += time.perf_counter() - start

    # ------------------------------------------------------------------ planning

    def _is_current(self, entry: _Known | None, document: Document | None = None,
                    file_hash: str | None = None) -> bool:
        if entry is None or entry.fingerprint != self.fingerprint:
            return False
        if file_hash is not None:
            return entry.file_hash == file_hash
        return document is not None and entry.content_hash == document.content_hash

    def _items(self, path: Path, result: FileResult) -> Iterator:
        """The file's documents and record errors; nothing when its bytes are unchanged."""
        if loader_for(path).multi_document:
            yield from iter_path(path, max_file_mb=self.settings.max_file_mb)
            return
        data = read_file(path, self.settings.max_file_mb)
        doc_id = self._doc_id(path, file_doc_id(path))
        if self._is_current(self.known.get(doc_id),
                            file_hash=hashlib.sha256(data).hexdigest()):
            self.seen_ids.add(doc_id)
            result.unchanged += 1
            return
        yield from iter_path(path, max_file_mb=self.settings.max_file_mb, data=data)

    def _doc_id(self, path: Path, doc_id: str) -> str:
        if self.namespace is None:
            return doc_id
        return scoped_doc_id(self.namespace, path, doc_id,
                             multi_document=loader_for(path).multi_document)

    def add_file(self, path: Path) -> None:
        result = FileResult(path=str(path))
        self.report.files.append(result)
        items = self._items(path, result)
        try:
            while True:
                with self.timed("parse"):
                    item = _next_item(items, path)
                if item is None:
                    break
                if isinstance(item, IngestError):
                    result.errors.append(str(item))
                    self.troubled_paths.add(str(path.resolve()))
                    continue
                if self.namespace is not None:
                    item = item.model_copy(update={"id": self._doc_id(path, item.id)})
                with self.timed("clean"):
                    self._plan(item, result)
                if len(self.batch) >= self.settings.batch_docs:
                    self.flush()
        except IngestError as err:
            result.errors.append(str(err))
            self.troubled_paths.add(str(path.resolve()))

    def _plan(self, document: Document, result: FileResult) -> None:
        if document.id in self.seen_ids:
            result.errors.append(f"{document.source}: document id '{document.id}' was "
                                 "already seen in this run; this copy is skipped")
            return
        self.seen_ids.add(document.id)
        entry = self.known.get(document.id)
        if self._is_current(entry, document):
            result.unchanged += 1
            if self._doc_task is not None:
                self.progress.advance(self._doc_task)
            return
        result.warnings += document.metadata.get("warnings", [])
        text_hash = content_hash(document.text)
        signature = self.dedup.signature(document.text)
        duplicate = self.dedup.check(document.id, text_hash, signature)
        if duplicate is None:
            self.dedup.remember(document.id, text_hash, signature)
        document = document.model_copy(update={"metadata": {
            **document.metadata, "text_hash": text_hash,
            "minhash": self.dedup.encode(signature), "ingest": self.recipe}})
        pending = _Pending(document, result, "changed" if entry else "added")
        if duplicate is not None:
            pending.duplicate_of = duplicate.of
            result.warnings.append(f"{document.source}: {duplicate.kind} duplicate of "
                                   f"document {duplicate.of} ("
                                   f"{'skipped' if self.settings.dedup == 'skip' else 'kept'})")
        self.batch.items.append(pending)

    # ------------------------------------------------------------------ processing

    def _process(self, pending: _Pending) -> tuple[list[Chunk], list[Question]]:
        document = pending.document
        with self.timed("chunk"):
            chunks = self.builder.chunks(document)
        questions: list[Question] = []
        if self.enricher is not None:
            with self.timed("enrich"):
                if self.enricher.contextual:
                    chunks = [self.builder.with_context(c, self.enricher.context(document, c))
                              for c in chunks]
                if self.enricher.n_questions:
                    questions = [q for c in chunks
                                 for q in self.enricher.questions(document, c)]
        with self.timed("chunk"):
            chunks = self.builder.measured(chunks)
        return chunks, questions

    def flush(self) -> None:
        if not len(self.batch):
            return
        batch, self.batch = self.batch, _Batch()
        done = []
        for pending in batch.items:
            if pending.duplicate_of is not None and self.settings.dedup == "skip":
                # reported, not indexed: the next run finds and reports it again; an earlier
                # version that was not a duplicate leaves the index
                pending.result.duplicates += 1
                if pending.status == "changed":
                    batch.deletions.append(pending.document.id)
                continue
            try:
                chunks, questions = self._process(pending)
            except IngestError as err:
                pending.result.errors.append(str(err))
                continue
            done.append((pending, chunks, questions))
        with self.timed("embed"):
            texts = [c.dense_text for _, chunks, _ in done for c in chunks]
            chunk_vectors = self.embedder.embed_passages(texts)
            qtexts = [q.text for _, _, questions in done for q in questions]
            question_vectors = self.embedder.embed_queries(qtexts) if qtexts else None
        with self.timed("index"):
            writer = self.store.writer()
            try:
                at = qat = 0
                for pending, chunks, questions in done:
                    document = pending.document
                    if pending.duplicate_of is not None:
                        document = document.model_copy(update={"metadata": {
                            **document.metadata, "duplicate_of": pending.duplicate_of}})
                    qvecs = question_vectors[qat:qat + len(questions)] if questions else None
                    writer.replace_document(document, chunks,
                                            chunk_vectors[at:at + len(chunks)],
                                            questions, qvecs)
                    at += len(chunks)
                    qat += len(questions)
                for doc_id in batch.deletions:
                    writer.delete_document(doc_id)
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
        for pending, chunks, questions in done:  # counted once they are committed
            result = pending.result
            if pending.duplicate_of is not None:
                result.duplicates += 1
            setattr(result, pending.status, getattr(result, pending.status) + 1)
            result.chunks += len(chunks)
            result.questions += len(questions)
        self.report.removed += batch.deletions
        if self._doc_task is not None:
            self.progress.advance(self._doc_task, len(done))

    # ------------------------------------------------------------------ pruning

    def stale_documents(self, roots: Iterable[Path]) -> list[str]:
        """Stored documents from under ``roots`` that this run did not see, except those of
        files that had errors (they may be back once the file is fixed)."""
        prefixes = []
        for root in roots:
            resolved = Path(root).resolve()
            prefixes.append((str(resolved), resolved.is_dir() or not resolved.exists()))
        stale = []
        for doc_id, entry in self.known.items():
            path = entry.path
            if doc_id in self.seen_ids or path in self.troubled_paths:
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


def _progress_bar() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True), transient=True)


def ingest_paths(paths: Iterable[Path | str], *, settings: IngestSettings, store: Store,
                 embedder: Embedder, llm: LLMClient | None = None, prune: bool = False,
                 enrich: bool = True, progress: bool = True,
                 namespace: str | None = None) -> IngestReport:
    """Ingest files and folders into ``store``; see the module docstring. Per-file errors are
    recorded in the report (``report.ok`` is False) and the run goes on; a store error is
    raised (what earlier batches committed stays). With ``namespace``, document ids are
    ``scoped_doc_id``-s, apart from every id ingested without it or from another file."""
    paths = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    started = time.perf_counter()
    usage_before = llm.usage.as_dict() if llm is not None else {}
    bar = _progress_bar() if progress else None
    with bar or _nullcontext():
        run = _Run(settings=settings, store=store, embedder=embedder, llm=llm, enrich=enrich,
                   progress=bar, namespace=namespace)
        files = []
        for root in paths:
            try:
                files += list(walk([root], settings.include, settings.exclude))
            except IngestError as err:
                run.report.files.append(FileResult(path=str(root), errors=[str(err)]))
        file_task = bar.add_task("files", total=len(files)) if bar else None
        if bar is not None:  # below the files bar: the documents found in them
            run._doc_task = bar.add_task("documents", total=None)
        for path in files:
            if bar is not None:
                bar.update(file_task, description=f"files ({path.name})")
            run.add_file(path)
            if bar is not None:
                bar.advance(file_task)
        run.flush()
        stale = run.stale_documents(paths)
        if prune:
            for start in range(0, len(stale), settings.batch_docs):
                run.batch.deletions = stale[start:start + settings.batch_docs]
                run.flush()
        else:
            run.report.stale = len(stale)
    report = run.report
    if run.enricher is not None:
        report.warnings += run.enricher.stats.warnings
    if llm is not None:
        after = llm.usage.as_dict()
        report.llm = {k: after[k] - usage_before.get(k, 0) for k in after}
    report.total_seconds = time.perf_counter() - started
    return report


@contextmanager
def _nullcontext():
    yield
