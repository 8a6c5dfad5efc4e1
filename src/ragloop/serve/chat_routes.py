"""Conversations over HTTP: ``POST /v1/chat`` answers the next turn of a conversation (JSON,
or server-sent events like ``/v1/ask``) and stores it; ``/v1/conversations`` lists, reads
and deletes the stored ones (``Pipeline.conversations``)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request, Response

from ragloop.answer.strategies import STRATEGIES
from ragloop.feedback.conversations import UnknownConversationError
from ragloop.records import Conversation
from ragloop.serve.answering import AskOptions
from ragloop.serve.api import checked_question, server
from ragloop.serve.schemas import MAX_OFFSET, ChatRequest, ChatResponse
from ragloop.serve.streaming import RagloopFormatter, answer_payload, stream_answer_response

router = APIRouter(prefix="/v1")


def _options(body: ChatRequest) -> AskOptions:
    filters = body.filters.to_filters() if body.filters is not None else None
    return AskOptions(mode=body.mode, strategy=body.strategy, filters=filters, chat=True,
                      conversation_id=body.conversation_id)


def conversation_summary(conversation: Conversation) -> dict:
    """A conversation in listings: its id, first question as title, size and times."""
    first = conversation.turns[0].question if conversation.turns else conversation.summary
    return {"id": conversation.id, "title": " ".join(first.split())[:120],
            "turns": len(conversation.turns), "summary": conversation.summary,
            "created": conversation.created.isoformat() if conversation.created else None,
            "updated": conversation.updated.isoformat() if conversation.updated else None}


@router.post("/chat", response_model=ChatResponse, responses={
    200: {"content": {"text/event-stream": {}},
          "description": "JSON, or server-sent events (`delta` then `answer`) when streaming"},
    404: {"description": "no conversation with this `conversation_id`"},
    503: {"description": "the model queue is full; retry after `Retry-After` seconds"}})
async def chat(body: ChatRequest, request: Request):
    """Answer the next turn of a conversation: the follow-up is searched in its standalone
    form and answered with the recent turns in view; the turn is stored. Without a
    `conversation_id` a new conversation starts; its id is in the answer."""
    state = server(request)
    checked_question(request, body.question)
    if body.conversation_id is not None:  # a 404 now, not an error event mid-stream
        store = state.pipeline.conversations
        if not await asyncio.to_thread(store.exists, body.conversation_id):
            raise UnknownConversationError(body.conversation_id)
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        return stream_answer_response(state, body.question, _options(body), RagloopFormatter(),
                                      endpoint="chat")
    answer, trace = await state.answer(body.question, _options(body), endpoint="chat")
    return answer_payload(answer, trace)


@router.get("/conversations")
async def list_conversations(request: Request, limit: int = Query(20, ge=1, le=500),
                             offset: int = Query(0, ge=0, le=MAX_OFFSET)):
    """Stored conversations, the most recently continued first."""
    store = server(request).pipeline.conversations
    found = await asyncio.to_thread(store.recent, limit, offset)
    return {"conversations": [conversation_summary(c) for c in found]}


@router.get("/conversations/{conversation_id}")
async def get_conversation(conversation_id: str, request: Request):
    """One conversation: its turns (question, answer, citations, searched query, trace id)
    and the summary of turns dropped to fit `[chat] history_tokens`."""
    store = server(request).pipeline.conversations
    conversation = await asyncio.to_thread(store.get, conversation_id)
    return conversation.model_dump(mode="json")


@router.delete("/conversations/{conversation_id}", status_code=204)
async def delete_conversation(conversation_id: str, request: Request):
    """Delete a conversation (its turns' traces and feedback stay)."""
    await asyncio.to_thread(server(request).pipeline.conversations.delete, conversation_id)
    return Response(status_code=204)


@router.get("/strategies")
async def list_strategies():
    """The strategies a question may name (`strategy` of `/v1/ask` and `/v1/chat`)."""
    return {"strategies": list(STRATEGIES.names())}
