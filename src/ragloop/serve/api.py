"""ragloop's own endpoints: ask, feedback, documents, traces."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from ragloop.feedback.store import TraceWithFeedback, trace_summary
from ragloop.index.store import Filters
from ragloop.records import Feedback
from ragloop.serve.answering import AskOptions
from ragloop.serve.schemas import AskRequest, AskResponse, FeedbackRequest, FeedbackResponse
from ragloop.serve.state import ServerState
from ragloop.serve.streaming import RagloopFormatter, answer_payload, stream_answer_response

router = APIRouter(prefix="/v1")
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def server(request: Request) -> ServerState:
    return request.app.state.ragloop


def _options(body: AskRequest) -> AskOptions:
    filters = None
    if body.filters is not None:
        f = body.filters
        filters = Filters(sources=tuple(f.sources), path_glob=f.path_glob,
                          modified_after=f.modified_after, modified_before=f.modified_before,
                          fields=dict(f.fields))
    return AskOptions(mode=body.mode, strategy=body.strategy, filters=filters)


@router.post("/ask", response_model=AskResponse, responses={
    200: {"content": {"text/event-stream": {}},
          "description": "JSON, or server-sent events (`delta` then `answer`) when streaming"},
    503: {"description": "the model queue is full; retry after `Retry-After` seconds"}})
async def ask(body: AskRequest, request: Request):
    """Answer a question with citations. Streams server-sent events when `"stream": true` or
    `Accept: text/event-stream`."""
    state = server(request)
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        return stream_answer_response(state, body.question, _options(body), RagloopFormatter(),
                                      endpoint="ask")
    answer, trace = await state.answer(body.question, _options(body), endpoint="ask")
    return answer_payload(answer, trace)


@router.post("/feedback", response_model=FeedbackResponse, status_code=201)
async def feedback(body: FeedbackRequest, request: Request):
    """Rate an answer up or down, correct it, or comment on it (by its trace id)."""
    record = Feedback(id=uuid.uuid4().hex, trace_id=body.trace_id,
                      created=datetime.now(UTC), rating=body.rating,
                      corrected_answer=(body.corrected_answer or "").strip() or None,
                      comment=(body.comment or "").strip() or None)
    await asyncio.to_thread(server(request).store.add_feedback, record)
    return FeedbackResponse(id=record.id, trace_id=record.trace_id,
                            created=record.created.isoformat())


@router.get("/traces")
async def list_traces(request: Request, limit: int = Query(20, ge=1, le=500),
                      offset: int = Query(0, ge=0)):
    """Recent traces, newest first, each with its feedback."""
    items = await asyncio.to_thread(server(request).store.recent, limit, offset)
    return {"traces": [trace_summary(item) for item in items]}


@router.get("/traces/{trace_id}")
async def get_trace(trace_id: str, request: Request):
    """One trace: its spans (OpenTelemetry GenAI attribute names) and its feedback."""
    store = server(request).store
    trace = await asyncio.to_thread(store.get_trace, trace_id)
    feedback = await asyncio.to_thread(store.feedback_for, trace_id)
    return trace_summary(TraceWithFeedback(trace, feedback))


def _save_upload(upload: UploadFile, folder: Path) -> Path:
    name = SAFE_NAME.sub("_", Path(upload.filename or "").name).strip("._")
    if not name:
        raise HTTPException(422, f"upload has no usable file name: {upload.filename!r}")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    with target.open("wb") as handle:
        while chunk := upload.file.read(1 << 20):
            handle.write(chunk)
    return target


@router.post("/documents", status_code=201, responses={
    207: {"description": "some files were ingested, some failed (see `files[].errors`)"},
    422: {"description": "no file could be ingested (see `files[].errors`)"}})
async def upload_documents(request: Request, files: list[UploadFile] = File(...)):
    """Upload files (multipart field `files`) and ingest them into the project's index.
    Files are kept under `<data_dir>/uploads/`; a re-upload of a name replaces it."""
    state = server(request)
    saved = [await asyncio.to_thread(_save_upload, f, state.uploads_dir) for f in files]
    try:
        from ragloop.serve.ingesting import ingest_uploads
    except ImportError as err:
        raise HTTPException(501, f"ingestion is not available: {err}") from None
    report = await state.gate.run(lambda: ingest_uploads(state, saved))
    body = {"saved": [p.name for p in saved], **report}
    failed = [f for f in report["files"] if f["errors"]]
    if not failed:
        return body
    done = len(failed) < len(report["files"]) or any(
        f["status"] == "partial" for f in failed)
    return JSONResponse(body, status_code=207 if done else 422)
