"""Uploaded files → the project's index, through ``Pipeline.ingest`` like the CLI.
Runs on the model thread (it embeds, and may call the LLM to enrich chunks).

Uploaded documents live in their own id space (``UPLOAD_NAMESPACE``, per uploaded file), so
an upload can never replace a document it did not create, whatever ids its records carry."""

from __future__ import annotations

from pathlib import Path

from ragloop.ingest.loaders import load_path, loader_for
from ragloop.ingest.loaders.base import file_key
from ragloop.ingest.plan import scoped_doc_id
from ragloop.ingest.report import FileResult, IngestReport

UPLOAD_NAMESPACE = "upload"


def report_dict(report: IngestReport) -> dict:
    return {"ok": report.ok, "counts": report.counts(), "errors": report.errors,
            "files": [{"path": Path(f.path).name, "status": f.status, "chunks": f.chunks,
                       "errors": f.errors, "warnings": f.warnings} for f in report.files],
            "seconds": round(report.total_seconds, 3)}


def rejected_only(rejected: list[FileResult]) -> dict:
    """The report of a request none of whose files could be saved."""
    return report_dict(IngestReport(files=list(rejected)))


def ingest_uploads(state, paths: list[Path], rejected: list[FileResult] = ()) -> dict:
    report = state.pipeline.ingest(paths, namespace=UPLOAD_NAMESPACE)
    report.files[:0] = rejected
    return report_dict(report)


def indexed_as_is(state, path: Path) -> bool:
    """Whether the index holds the uploaded file at ``path`` as it is on disk now: its bytes
    (a one-document file) or every record's text (a multi-document file)."""
    multi = loader_for(path).multi_document
    own_id = scoped_doc_id(UPLOAD_NAMESPACE, path, "", multi_document=multi)  # "#" ends it
    stored = {e.doc_id: e for e in state.pipeline.store.documents()
              if e.doc_id == own_id or (multi and e.doc_id.startswith(own_id))}
    if not multi:
        entry = stored.get(own_id)
        return entry is not None and entry.bookkeeping.file_hash == file_key(
            path, path.read_bytes())
    records = {scoped_doc_id(UPLOAD_NAMESPACE, path, d.id, multi_document=True): d.content_hash
               for d in load_path(path, errors=[])}
    return records == {doc_id: e.content_hash for doc_id, e in stored.items()}
