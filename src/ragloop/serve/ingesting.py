"""Uploaded files → the project's index, with the same ``ingest_paths`` the CLI uses.
Runs on the model thread (it embeds, and may call the LLM to enrich chunks)."""

from __future__ import annotations

from pathlib import Path

from ragloop.ingest.sync import ingest_paths


def ingest_uploads(state, paths: list[Path]) -> dict:
    pipeline = state.pipeline
    settings = pipeline.settings.ingest
    wants_llm = settings.contextual or settings.questions_per_chunk > 0
    report = ingest_paths(paths, settings=settings, store=pipeline.store,
                          embedder=pipeline.embedder, llm=pipeline.llm if wants_llm else None,
                          progress=False)
    return {"ok": report.ok, "counts": report.counts(), "errors": report.errors,
            "files": [{"path": Path(f.path).name, "status": f.status, "chunks": f.chunks,
                       "errors": f.errors, "warnings": f.warnings} for f in report.files],
            "seconds": round(report.total_seconds, 3)}
