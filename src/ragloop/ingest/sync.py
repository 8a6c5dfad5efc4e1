"""Incremental ingestion as stages:

    plan (``plan.py``: which documents are new or changed, duplicates, stale)
      → process each document (``process.DocumentStage``: chunk, enrich — no store access)
      → embed (batched, ``process.ProcessBatch``)
      → commit (``commit.commit_batch``: the one writer, one transaction per batch)

Processing and embedding run on an executor (``ragloop.executors``): in this process by default,
or on a pool of workers, each receiving batches of ``[ingest] batch_docs`` documents while
this process plans the next ones and commits finished batches in order. Because every batch
is committed, an interrupted run resumes where it stopped (committed documents show as
unchanged), and a crash leaves the previous index whole. Progress and timing are observers
(``observe.py``) told what happens.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ragloop.config import IngestSettings
from ragloop.executors.base import Executor, InlineExecutor
from ragloop.index.info import check_embedder, embedder_info
from ragloop.index.store import Store
from ragloop.ingest.commit import commit_batch
from ragloop.ingest.observe import IngestObserver, Observers, RichProgress, Timings
from ragloop.ingest.plan import Planned, Planner, find_files, ingest_fingerprint
from ragloop.ingest.process import DocumentStage, ModelSpec, ProcessBatch, Processed
from ragloop.ingest.report import FileResult, IngestReport
from ragloop.models.embedder import Embedder
from ragloop.models.llm import LLMClient
from ragloop.records import Bookkeeping, IngestRecipe

__all__ = ["IngestReport", "FileResult", "ingest_paths", "ingest_fingerprint"]


@dataclass
class _Batch:
    items: list[Planned] = field(default_factory=list)  # go to the per-document stage
    skipped: list[Planned] = field(default_factory=list)  # duplicates left out of the index
    deletions: list[str] = field(default_factory=list)
    refreshes: list[tuple[str, Bookkeeping]] = field(default_factory=list)  # new file keys

    def __len__(self) -> int:
        return len(self.items) + len(self.skipped) + len(self.deletions) + len(self.refreshes)


class _Clock:
    """Times a block into an observer's ``stage_seconds``."""

    def __init__(self, observer: IngestObserver, stage: str):
        self.observer, self.stage = observer, stage

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *exc):
        self.observer.stage_seconds(self.stage, time.perf_counter() - self.start)


def ingest_paths(paths: Iterable[Path | str], *, settings: IngestSettings, store: Store,
                 embedder: Embedder, llm: LLMClient | None = None, prune: bool = False,
                 enrich: bool = True, progress: bool = True,
                 observer: IngestObserver | None = None, executor: Executor | None = None,
                 models: ModelSpec | None = None, reembed: bool = False,
                 namespace: str | None = None) -> IngestReport:
    """Ingest files and folders into ``store``; see the module docstring. Per-file errors are
    recorded in the report (``report.ok`` is False) and the run goes on; a store error is
    raised (what earlier batches committed stays).

    ``executor``: where batches are processed (default: this process). A pool needs the
    stage to pickle: pass ``models`` (settings to build the embedder/LLM in each worker) or
    models that pickle. ``reembed``: the index was made with another embedder; re-process
    every document not yet embedded with this one (with no ``paths``, every file the index
    holds). Without it, an index that records another embedder is an
    ``EmbedderChangedError``. ``namespace``: document ids are ``plan.scoped_doc_id``-s,
    apart from every id ingested without it or from another file (the server's uploads)."""
    paths = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    started = time.perf_counter()
    report = IngestReport()
    timings = Timings()
    bar = RichProgress() if progress else None
    events = Observers([timings, bar, observer])

    wants_llm = settings.contextual or settings.questions_per_chunk > 0
    contextual = enrich and llm is not None and settings.contextual
    n_questions = settings.questions_per_chunk if enrich and llm is not None else 0
    if wants_llm and enrich and llm is None:
        report.warnings.append("enrichment is configured but no LLM was given; "
                               "chunks are not enriched")
    llm_id = llm.model_id if llm is not None and (contextual or n_questions) else None
    fingerprint = ingest_fingerprint(settings, embedder.model_id, embedder.max_tokens, llm_id,
                                     contextual=contextual, questions_per_chunk=n_questions)
    report.fingerprint = fingerprint
    recipe = IngestRecipe(fingerprint=fingerprint, chunker=settings.chunker,
                          dense_fields=tuple(settings.dense_fields),
                          lexical_fields=tuple(settings.lexical_fields), contextual=contextual,
                          questions_per_chunk=n_questions, embedder=embedder.model_id)
    if not reembed:
        check_embedder(store, embedder.model_id, embedder.dim)
    info = embedder_info(embedder.model_id, embedder.dim)

    with _Clock(events, "parse"):
        planner = Planner(settings, store.documents(), recipe, namespace=namespace)
    if reembed and not paths:
        paths = sorted({Path(known.path) for known in planner.known.values()})
    stage = DocumentStage(settings, contextual=contextual, questions_per_chunk=n_questions,
                          embedder=embedder if models is None else None,
                          llm=llm if models is None else None, models=models)
    task = ProcessBatch(stage, on_embedding=events.embedding, on_embedded=events.embedded)
    if llm is not None:
        report.llm = dict.fromkeys(llm.usage.as_dict(), 0)
    run_executor = executor or InlineExecutor()

    def commit(batch: _Batch, processed) -> None:
        for planned in batch.skipped:
            # reported, not indexed: the next run finds and reports it again; an earlier
            # version that was not a duplicate leaves the index
            planned.result.duplicates += 1
        items = []
        for planned, done in zip(batch.items, processed, strict=True):
            if done.error is not None:
                planned.result.errors.append(done.error)
                planner.mark_troubled(Path(planned.document.metadata.get(
                    "path", planned.document.source)))
            else:
                items.append((planned, done))
        with _Clock(events, "index"):
            committed = commit_batch(store, items, batch.deletions, fingerprint=fingerprint,
                                     index_info=None if reembed else info,
                                     refreshes=batch.refreshes)
        report.removed += committed.removed
        events.committed(committed.documents, committed.chunks, committed.characters)

    with bar or _nothing():
        files, unreadable, notes = find_files(paths, settings)
        report.warnings += notes
        for path, error in unreadable:
            report.files.append(FileResult(path=str(path), errors=[error]))
            planner.mark_troubled(path)
        events.files_found(len(files))
        pending: deque[_Batch] = deque()

        def batches() -> Iterator[list]:
            # a worker's unit is a batch; N workers get batches of batch_docs / N so that a
            # run of a few large files still spreads over all of them
            size = max(1, settings.batch_docs // max(1, run_executor.workers))
            for batch in _plan_batches(files, planner, size, settings.dedup, report, events):
                pending.append(batch)
                documents = [planned.document for planned in batch.items]
                if documents:
                    largest = max(documents, key=lambda d: len(d.text))
                    events.processing(len(documents), largest.source, len(largest.text))
                yield documents

        try:
            for outcome in run_executor.map(task, batches()):
                batch = pending.popleft()
                if outcome.error is not None:  # lost with its worker, retried: reported
                    processed = [_lost(p, outcome.error) for p in batch.items]
                else:
                    result = outcome.result
                    for stage_name, seconds in result.seconds.items():
                        events.stage_seconds(stage_name, seconds)
                    report.warnings += result.warnings
                    for key, value in result.llm_usage.items():
                        report.llm[key] = report.llm.get(key, 0) + value
                    processed = result.items
                commit(batch, processed)
        finally:
            if executor is None:
                run_executor.close()
        stale = planner.stale_documents(paths)
        if prune:
            for start in range(0, len(stale), settings.batch_docs):
                commit(_Batch(deletions=stale[start:start + settings.batch_docs]), [])
        else:
            report.stale = len(stale)
        if reembed:
            _finish_reembed(store, embedder, info, report)
    report.seconds = timings.seconds
    report.total_seconds = time.perf_counter() - started
    return report


def _plan_batches(files: list[Path], planner: Planner, size: int, dedup: str,
                  report: IngestReport, events: IngestObserver) -> Iterator[_Batch]:
    batch = _Batch()
    for path in files:
        result = FileResult(path=str(path))
        report.files.append(result)
        events.file_started(str(path))
        unchanged_before = result.unchanged
        items = planner.plan_file(path, result, events)
        for planned in items:
            if planned is None:
                continue
            if len(batch) >= size:  # full: sent once more work arrives or
                yield batch                        # the file is done (so progress counts it)
                batch = _Batch()
            events.documents_planned(1, len(planned.document.text))
            if planned.duplicate_of is not None and dedup == "skip":
                batch.skipped.append(planned)
                if planned.status == "changed":
                    batch.deletions.append(planned.document.id)
            else:
                batch.items.append(planned)
        batch.refreshes += planner.refreshes
        planner.refreshes.clear()
        events.document_unchanged(result.unchanged - unchanged_before)
        events.file_done(str(path))
        if len(batch) >= size:
            yield batch
            batch = _Batch()
    if len(batch):
        yield batch


def _lost(planned: Planned, error: str) -> Processed:
    return Processed(planned.document.id,
                     error=f"{planned.document.source}: not indexed: {error}")


def _finish_reembed(store: Store, embedder: Embedder, info: dict, report: IngestReport) -> None:
    """Record the new embedder once every document has its vectors; until then the index
    keeps naming the old one (so searches still refuse) and the report says what is left."""
    left = [entry.source for entry in store.documents()
            if entry.bookkeeping.ingest is None
            or entry.bookkeeping.ingest.embedder != embedder.model_id]
    if left:
        report.files.append(FileResult(path="(re-embed)", errors=[
            f"{len(left)} document(s) still hold vectors of the old embedder (their files "
            f"could not be re-ingested), e.g. {left[0]}; fix or `--prune` them and run "
            "`ragloop ingest --reembed` again"]))
        return
    writer = store.writer()
    try:
        writer.set_index_info(**info)
        writer.commit()
    except BaseException:
        writer.rollback()
        raise


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None
