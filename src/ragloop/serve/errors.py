"""Every error the API returns has one shape, OpenAI's: ``{"error": {"message", "type",
"code"}}``, with a message that says what was wrong and where."""

from __future__ import annotations

import sqlite3

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ragloop.errors import RagloopError, describe_os_error, is_disk_full
from ragloop.feedback.conversations import UnknownConversationError
from ragloop.feedback.store import FeedbackLimitError, UnknownTraceError
from ragloop.serve.gate import QueueFullError


def error_response(status: int, message: str, code: str, headers=None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"error": {"message": message, "type": kind, "code": code}},
                        status_code=status, headers=headers)


def _describe_validation(err: RequestValidationError) -> tuple[int, str, str]:
    first = err.errors()[0]
    if first["type"] == "json_invalid":
        detail = first.get("ctx", {}).get("error", "")
        return 400, f"request body is not valid JSON: {detail}".rstrip(": "), "invalid_json"
    loc = [str(p) for p in first["loc"] if p != "body"]
    where = ".".join(loc) or "body"
    if first["type"] == "missing":
        return 422, f"missing required field '{where}'", "invalid_request"
    if first["type"] == "extra_forbidden":
        return 422, f"unknown field '{where}'", "invalid_request"
    message = first["msg"].removeprefix("Value error, ")
    if not loc:
        return 422, message, "invalid_request"
    return 422, f"field '{where}': {message}", "invalid_request"


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, err: RequestValidationError):
        status, message, code = _describe_validation(err)
        return error_response(status, message, code)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, err: HTTPException):
        return error_response(err.status_code, str(err.detail), f"http_{err.status_code}",
                              getattr(err, "headers", None))

    @app.exception_handler(UnknownTraceError)
    async def _unknown_trace(_: Request, err: UnknownTraceError):
        return error_response(404, str(err), "unknown_trace")

    @app.exception_handler(FeedbackLimitError)
    async def _feedback_limit(_: Request, err: FeedbackLimitError):
        return error_response(429, str(err), "feedback_limit")

    @app.exception_handler(UnknownConversationError)
    async def _unknown_conversation(_: Request, err: UnknownConversationError):
        return error_response(404, str(err), "unknown_conversation")

    @app.exception_handler(QueueFullError)
    async def _queue_full(_: Request, err: QueueFullError):
        return error_response(503, str(err), "queue_full",
                              {"Retry-After": str(err.retry_after_s)})

    @app.exception_handler(RagloopError)
    async def _ragloop(_: Request, err: RagloopError):
        return error_response(500, f"{type(err).__name__}: {err}", "ragloop_error")

    @app.exception_handler(OSError)
    @app.exception_handler(sqlite3.Error)
    async def _disk(_: Request, err: Exception):
        # a full disk is 507 (the client may retry later), any other I/O error a JSON 500
        if is_disk_full(err):
            return error_response(507, describe_os_error(err), "disk_full")
        return error_response(500, describe_os_error(err), "io_error")
