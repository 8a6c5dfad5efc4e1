"""ragloop's own endpoints: ask, feedback, documents, traces."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from ragloop.feedback.store import TraceWithFeedback, trace_summary
from ragloop.ingest.report import FileResult
from ragloop.serve.answering import AskOptions
from ragloop.serve.ingesting import indexed_as_is, ingest_uploads, rejected_only
from ragloop.serve.schemas import (
    MAX_OFFSET,
    AskRequest,
    AskResponse,
    FeedbackRequest,
    FeedbackResponse,
)
from ragloop.serve.state import ServerState
from ragloop.serve.streaming import RagloopFormatter, answer_payload, stream_answer_response
from ragloop.serve.uploads import (
    SavedUpload,
    UploadRejected,
    interrupted,
    recover_interrupted,
    save_upload,
)

router = APIRouter(prefix="/v1")
log = logging.getLogger(__name__)


def server(request: Request) -> ServerState:
    return request.app.state.ragloop


def checked_question(request: Request, question: str) -> str:
    """``question``, or a 422 when it is longer than ``[serve] max_question_chars``: the
    model reads every character of it, one request at a time, so a long one holds up every
    client (an 8,000-character question took 46-113 s on the default model here)."""
    problem = server(request).question_too_long(question)
    if problem:
        raise HTTPException(422, problem)
    return question


def _options(body: AskRequest) -> AskOptions:
    filters = body.filters.to_filters() if body.filters is not None else None
    return AskOptions(mode=body.mode, strategy=body.strategy, filters=filters)


@router.post("/ask", response_model=AskResponse, responses={
    200: {"content": {"text/event-stream": {}},
          "description": "JSON, or server-sent events (`delta` then `answer`) when streaming"},
    503: {"description": "the model queue is full; retry after `Retry-After` seconds"}})
async def ask(body: AskRequest, request: Request):
    """Answer a question with citations. Streams server-sent events when `"stream": true` or
    `Accept: text/event-stream`."""
    state = server(request)
    checked_question(request, body.question)
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        return stream_answer_response(state, body.question, _options(body), RagloopFormatter(),
                                      endpoint="ask")
    answer, trace = await state.answer(body.question, _options(body), endpoint="ask")
    return answer_payload(answer, trace)


@router.post("/feedback", response_model=FeedbackResponse, status_code=201)
async def feedback(body: FeedbackRequest, request: Request):
    """Rate an answer up or down, correct it, or comment on it (by its trace id)."""
    record = await asyncio.to_thread(server(request).feedback, body.trace_id,
                                     rating=body.rating, corrected_answer=body.corrected_answer,
                                     comment=body.comment)
    return FeedbackResponse(id=record.id, trace_id=record.trace_id,
                            created=record.created.isoformat())


@router.get("/traces")
async def list_traces(request: Request, limit: int = Query(20, ge=1, le=500),
                      offset: int = Query(0, ge=0, le=MAX_OFFSET)):
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


@router.post("/documents", status_code=201, responses={
    207: {"description": "some files were ingested, some failed (see `files[].errors`)"},
    422: {"description": "no file could be ingested (see `files[].errors`)"}})
async def upload_documents(request: Request, files: list[UploadFile] = File(...)):
    """Upload files (multipart field `files`) and ingest them into the project's index.
    Files are kept under `<data_dir>/uploads/`; a re-upload of a name replaces its earlier
    version. Uploaded documents have their own ids (`upload:<file>[#record]`), so an upload
    never replaces a document ingested otherwise; a file that fails leaves nothing behind."""
    state = server(request)
    # one request's files at a time on disk: two uploads of one name at once would set
    # aside each other's files and ingest the wrong bytes
    async with request.app.state.upload_lock:
        if interrupted(state.uploads_dir):  # a re-upload was killed mid-way: settle it first
            for note in await state.gate.run(lambda: recover_interrupted(
                    state.uploads_dir, lambda path: indexed_as_is(state, path))):
                log.warning("interrupted upload recovered: %s", note)
        taken: set[str] = set()
        saved: list[SavedUpload] = []
        rejected: list[FileResult] = []
        try:
            for upload in files:
                try:
                    saved.append(await asyncio.to_thread(save_upload, upload,
                                                         state.uploads_dir, taken))
                except UploadRejected as err:
                    rejected.append(FileResult(path=upload.filename or "", errors=[str(err)]))
            if saved:
                paths = [s.path for s in saved]
                report = await state.gate.run(lambda: ingest_uploads(state, paths, rejected))
            else:
                report = rejected_only(rejected)
        except BaseException:
            for item in saved:
                item.restore()
            raise
        ingested = report["files"][len(rejected):]  # rejected files come first
        failed_names = {f["path"] for f in ingested if f["status"] == "failed"}
        for item in saved:
            if item.path.name in failed_names:
                item.restore()
            else:
                item.keep()
    body = {"saved": [s.path.name for s in saved if s.path.name not in failed_names],
            **report}
    failed = [f for f in report["files"] if f["errors"]]
    if not failed:
        return body
    done = len(failed) < len(report["files"]) or any(
        f["status"] == "partial" for f in failed)
    return JSONResponse(body, status_code=207 if done else 422)
