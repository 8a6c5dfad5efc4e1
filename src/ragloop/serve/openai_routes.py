"""An OpenAI-compatible face (``/v1/chat/completions``, ``/v1/models``) so existing clients can
use ragloop as a model. The whole ``messages`` list is honoured: the last user message is
the question, system messages are the answer's instruction, and the user/assistant turns
before it are the conversation the follow-up is searched and answered with (as
``/v1/chat`` does, but nothing is stored: the client keeps the history). Answers stay
grounded in the index. Each answer also carries ``ragloop: {trace_id, citations}``."""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request

from ragloop.records import Answer, Conversation, Trace, Turn
from ragloop.serve.answering import AskOptions
from ragloop.serve.api import checked_question
from ragloop.serve.schemas import ChatCompletionRequest
from ragloop.serve.state import ServerState
from ragloop.serve.streaming import Formatter, sse, stream_answer_response

router = APIRouter(prefix="/v1")
MODEL_ID = "ragloop"


def _text(message) -> str:
    content = message.content
    if isinstance(content, list):  # content parts: keep the text ones
        content = " ".join(p.text or "" for p in content if p.type == "text")
    return (content or "").strip()


def _question_at(body: ChatCompletionRequest) -> int:
    for at in range(len(body.messages) - 1, -1, -1):
        if body.messages[at].role == "user" and _text(body.messages[at]):
            return at
    raise HTTPException(400, "messages must include a user message with text content")


def _history(messages) -> Conversation | None:
    """User/assistant messages before the question as turns: each user message with the
    assistant replies that follow it (a user message with no reply is a turn with an empty
    answer); tool and other roles are left out."""
    turns: list[list[str]] = []
    for message in messages:
        text = _text(message)
        if message.role == "user" and text:
            turns.append([text, ""])
        elif message.role == "assistant" and text and turns:
            turns[-1][1] = " ".join(filter(None, (turns[-1][1], text)))
    if not turns:
        return None
    return Conversation(id="client", turns=tuple(Turn(question=q, answer=a) for q, a in turns))


def options_of(body: ChatCompletionRequest) -> tuple[str, AskOptions]:
    """The question (the last user message) and how to answer it: system and developer
    messages joined as the instruction, earlier turns as the history."""
    at = _question_at(body)
    instruction = "\n".join(_text(m) for m in body.messages
                            if m.role in ("system", "developer") and _text(m))
    return _text(body.messages[at]), AskOptions(history=_history(body.messages[:at]),
                                                instruction=instruction)


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
    question, options = options_of(body)
    checked_question(request, question)
    model = body.model or MODEL_ID
    if body.stream:
        return stream_answer_response(state, question, options, ChatChunkFormatter(model),
                                      endpoint="chat.completions")
    answer, trace = await state.answer(question, options, endpoint="chat.completions")
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
