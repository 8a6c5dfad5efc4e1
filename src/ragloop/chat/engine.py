"""``Chat``: answers requests that carry a conversation, and keeps stored conversations.

``prepare(request)`` makes a request with history ready for the answerer: the follow-up's
standalone query (the ``[chat] condense`` condenser; a ``search_query`` already given is
kept) and the conversation cut to the prompt's budget (``window``). ``answer``/``stream``
answer it; the condensing calls count in the answer's calls, and ``metadata["chat"]`` says
what was searched and how. ``reply``/``reply_stream`` do the same for a conversation in
the ``ConversationStore``: read it (or start one), answer, append the turn.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from functools import cached_property

from ragloop.chat.condensers import CONDENSERS, Condensed, Condenser
from ragloop.chat.window import prompt_window
from ragloop.config import ChatSettings
from ragloop.feedback.conversations import ConversationStore
from ragloop.models.llm import recorded_calls
from ragloop.records import (
    Answer,
    AnswerEvent,
    AnswerRequest,
    ChatReply,
    Conversation,
    LLMCall,
    Turn,
)


@dataclass(frozen=True)
class Prepared:
    request: AnswerRequest
    condensed: Condensed | None = None  # None: nothing was condensed (no history, or given)
    calls: tuple[LLMCall, ...] = ()  # what condensing cost

    def noted(self, answer: Answer, conversation_id: str | None = None) -> Answer:
        """``answer`` with the condensing calls counted and ``metadata["chat"]`` set."""
        chat = dict(self.condensed.as_metadata()) if self.condensed else {}
        if self.request.conversation is not None:
            chat["history_turns"] = len(self.request.conversation.turns)
        if conversation_id:
            chat["conversation_id"] = conversation_id
        return answer.model_copy(update={"calls": (*self.calls, *answer.calls),
                                         "metadata": {**answer.metadata, "chat": chat}})


@dataclass
class ChatStream:
    """A streamed turn: the conversation's id (known before the first event) and the
    ``AnswerEvent``s, the turn stored when the final one has been read."""

    conversation_id: str
    events: Iterator[AnswerEvent]

    def __iter__(self) -> Iterator[AnswerEvent]:
        return self.events

    def close(self) -> None:
        close = getattr(self.events, "close", None)
        if close is not None:
            close()


def turn_of(answer: Answer, trace_id: str | None = None) -> Turn:
    return Turn(question=answer.question, answer=answer.text, citations=answer.citations,
                search_query=answer.metadata.get("search_query", ""), trace_id=trace_id)


class Chat:
    """Built once per pipeline: ``answerer`` answers (``ragloop.answer.answerer``),
    ``llm`` rewrites and counts tokens, ``store`` (the index) weighs carried terms,
    ``conversations`` keeps conversations."""

    def __init__(self, settings: ChatSettings, *, answerer, llm, store,
                 conversations: Callable[[], ConversationStore] | ConversationStore):
        self.settings = settings
        self.answerer = answerer
        self.llm = llm
        self.store = store
        self._conversations = conversations

    @cached_property
    def condenser(self) -> Condenser:
        return CONDENSERS.get(self.settings.condense)(self.settings, llm=self.llm,
                                                      store=self.store)

    @property
    def conversations(self) -> ConversationStore:
        given = self._conversations
        return given if isinstance(given, ConversationStore) else given()

    def condense(self, question: str, conversation: Conversation) -> Condensed:
        return self.condenser.condense(question, conversation)

    def prepare(self, request: AnswerRequest) -> Prepared:
        conversation = request.conversation
        if conversation is None or not (conversation.turns or conversation.summary):
            return Prepared(request)
        condensed = None
        with recorded_calls() as calls:
            if not request.search_query:
                condensed = self.condense(request.question, conversation)
                request = request.model_copy(update={"search_query": condensed.query})
        window = prompt_window(conversation, self.settings.prompt_tokens, self.llm.count_tokens)
        return Prepared(request.model_copy(update={"conversation": window}), condensed,
                        tuple(calls))

    def answer(self, request: AnswerRequest, conversation_id: str | None = None) -> Answer:
        prepared = self.prepare(request)
        return prepared.noted(self.answerer.answer(prepared.request), conversation_id)

    def stream(self, request: AnswerRequest,
               conversation_id: str | None = None) -> Iterator[AnswerEvent]:
        prepared = self.prepare(request)
        with closing(self.answerer.stream(prepared.request)) as events:
            for event in events:
                if event.kind == "answer":
                    event = AnswerEvent.final(prepared.noted(event.answer, conversation_id))
                yield event

    # ---- stored conversations

    def _request(self, conversation: Conversation, question: str, fields) -> AnswerRequest:
        return AnswerRequest(question=question, conversation=conversation, **fields)

    def _conversation(self, conversation_id: str | None) -> Conversation:
        """The stored conversation, or a new one with a fresh id (stored by ``_keep``)."""
        if conversation_id:
            return self.conversations.get(conversation_id)
        return Conversation(id=uuid.uuid4().hex)

    def _keep(self, conversation: Conversation, new: bool, turn: Turn) -> None:
        if new:
            self.conversations.create(conversation.id)
        self.conversations.append(conversation.id, turn)

    def reply(self, conversation_id: str | None, question: str, *,
              trace_id: str | None = None, **fields) -> ChatReply:
        """Answer ``question`` as the next turn of the stored conversation (a new one when
        ``conversation_id`` is None; ``UnknownConversationError`` for an unknown id) and
        append the turn. ``fields`` are ``AnswerRequest`` fields (mode, filters ...). A new
        conversation is stored with its first turn: a failed answer leaves nothing."""
        conversation = self._conversation(conversation_id)
        answer = self.answer(self._request(conversation, question, fields), conversation.id)
        self._keep(conversation, conversation_id is None, turn_of(answer, trace_id))
        return ChatReply(conversation_id=conversation.id, answer=answer)

    def reply_stream(self, conversation_id: str | None, question: str, *,
                     trace_id: str | None = None, **fields) -> ChatStream:
        """``reply``, streamed: the turn is stored before the final event is handed out, so a
        stream given up before its answer stores nothing."""
        conversation = self._conversation(conversation_id)
        request = self._request(conversation, question, fields)

        def events() -> Iterator[AnswerEvent]:
            with closing(self.stream(request, conversation.id)) as inner:
                for event in inner:
                    if event.kind == "answer":
                        self._keep(conversation, conversation_id is None,
                                   turn_of(event.answer, trace_id))
                    yield event

        return ChatStream(conversation.id, events())
