"""Uploaded files → the project's index, with the same ``ingest_paths`` the CLI uses.
Runs on the model thread (it embeds, and may call the LLM to enrich chunks).

Uploaded documents live in their own id space (``UPLOAD_NAMESPACE``, per uploaded file), so
an upload can never replace a document it did not create, whatever ids its records carry."""

from __future__ import annotations

from pathlib import Path

from ragloop.ingest.report import FileResult, IngestReport
from ragloop.ingest.sync import ingest_paths

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
    pipeline = state.pipeline
    settings = pipeline.settings.ingest
    wants_llm = settings.contextual or settings.questions_per_chunk > 0
    report = ingest_paths(paths, settings=settings, store=pipeline.store,
                          embedder=pipeline.embedder, llm=pipeline.llm if wants_llm else None,
                          progress=False, namespace=UPLOAD_NAMESPACE)
    report.files[:0] = rejected
    return report_dict(report)
