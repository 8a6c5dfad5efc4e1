"""Uploaded files → the project's index, through ``Pipeline.ingest`` like the CLI.
Runs on the model thread (it embeds, and may call the LLM to enrich chunks).

Uploaded documents live in their own id space (``UPLOAD_NAMESPACE``, per uploaded file), so
an upload can never replace a document it did not create, whatever ids its records carry."""

from __future__ import annotations

from pathlib import Path

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
