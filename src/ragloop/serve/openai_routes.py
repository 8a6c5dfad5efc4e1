"""An OpenAI-compatible face (``/v1/chat/completions``, ``/v1/models``) so existing clients can
use ragloop as a model. The last user message is the question; earlier turns and system
messages are not used (answers are grounded in the index, not the chat history). Each answer
also carries ``ragloop: {trace_id, citations}`` for clients that want them."""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request

from ragloop.records import Answer, Trace
from ragloop.serve.answering import AskOptions
from ragloop.serve.api import checked_question
from ragloop.serve.schemas import ChatCompletionRequest
from ragloop.serve.state import ServerState
from ragloop.serve.streaming import Formatter, sse, stream_answer_response

router = APIRouter(prefix="/v1")
MODEL_ID = "ragloop"


def _question(body: ChatCompletionRequest) -> str:
    for message in reversed(body.messages):
        if message.role != "user":
            continue
        content = message.content
        if isinstance(content, list):  # content parts: keep the text ones
            content = " ".join(p.text or "" for p in content if p.type == "text")
        if content and content.strip():
            return content.strip()
    raise HTTPException(400, "messages must include a user message with text content")


def _usage(answer: Answer) -> dict:
    return {"prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens}


def _extras(trace: Trace) -> dict:
    return {"trace_id": trace.id, "citations": trace.metadata.get("citations", [])}


class ChatChunkFormatter(Formatter):
    def __init__(self, model: str):
        self.model = model
        self.created = int(time.time())
        self.id = f"chatcmpl-{int(time.time() * 1000)}"
        self.first = True

    def _chunk(self, delta: dict, finish: str | None, **extra) -> dict:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}

    def delta(self, text: str) -> str:
        delta = {"role": "assistant", "content": text} if self.first else {"content": text}
        self.first = False
        return sse(self._chunk(delta, None))

    def final(self, answer: Answer, trace: Trace) -> str:
        return (sse(self._chunk({}, "stop", usage=_usage(answer), ragloop=_extras(trace)))
                + sse("[DONE]"))


@router.post("/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request):
    """OpenAI Chat Completions (non-streaming, or streaming chunks with `"stream": true`)."""
    state: ServerState = request.app.state.ragloop
    question = checked_question(request, _question(body))  # the last user message
    model = body.model or MODEL_ID
    if body.stream:
        return stream_answer_response(state, question, AskOptions(), ChatChunkFormatter(model),
                                      endpoint="chat.completions")
    answer, trace = await state.answer(question, AskOptions(), endpoint="chat.completions")
    return {"id": f"chatcmpl-{trace.id}", "object": "chat.completion",
            "created": int(trace.created.timestamp()), "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer.text}}],
            "usage": _usage(answer), "ragloop": _extras(trace)}


@router.get("/models")
async def list_models():
    """The one model this server offers, for clients that list models first."""
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0,
                                        "owned_by": "ragloop"}]}
