"""Uploaded files → the project's index, through ``Pipeline.ingest`` like the CLI.
Runs on the model thread (it embeds, and may call the LLM to enrich chunks)."""

from __future__ import annotations

from pathlib import Path


def ingest_uploads(state, paths: list[Path]) -> dict:
    report = state.pipeline.ingest(paths)
    return {"ok": report.ok, "counts": report.counts(), "errors": report.errors,
            "files": [{"path": Path(f.path).name, "status": f.status, "chunks": f.chunks,
                       "errors": f.errors, "warnings": f.warnings} for f in report.files],
            "seconds": round(report.total_seconds, 3)}
