"""How the server gets answers from a pipeline: whole (``ask``) or as ``AnswerEvent``s
(text deltas, then the full ``Answer``). Runs on the model thread; knows nothing of HTTP.

``AskOptions`` says what kind of answer: a lone question (``/v1/ask``); the next turn of a
stored conversation (``chat``: ``Pipeline.chat``, the turn stored with its trace id); or a
question with a history the client sent (``history``: the OpenAI messages, stored nowhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from ragloop.records import Answer, AnswerEvent, AnswerRequest, Conversation


@dataclass(frozen=True)
class AskOptions:
    mode: str | None = None
    strategy: str | None = None
    filters: Any = None
    chat: bool = False  # a turn of a stored conversation
    conversation_id: str | None = None  # with chat: None starts a conversation
    history: Conversation | None = None  # turns the client sent (not stored)
    instruction: str = ""

    def fields(self) -> dict[str, Any]:
        """The ``AnswerRequest`` fields these options set."""
        fields = {"mode": self.mode, "strategy": self.strategy, "filters": self.filters}
        if self.instruction:
            fields["instruction"] = self.instruction
        return fields

    @property
    def plain(self) -> bool:
        """A lone question, answered by ``pipeline.ask``/``stream`` with its keywords."""
        return not self.chat and self.history is None and not self.instruction


def ask(pipeline, question: str, options: AskOptions, trace_id: str | None = None) -> Answer:
    if options.chat:
        return pipeline.chat(options.conversation_id, question, trace_id=trace_id,
                             **options.fields()).answer
    if options.plain:
        return pipeline.ask(question, mode=options.mode, strategy=options.strategy,
                            filters=options.filters)
    return pipeline.answer(AnswerRequest(question=question, conversation=options.history,
                                         **options.fields()))


def _events(pipeline, question: str, options: AskOptions, trace_id: str | None):
    if options.chat:
        return pipeline.chat_stream(options.conversation_id, question, trace_id=trace_id,
                                    **options.fields())
    if options.plain:
        return pipeline.stream(question, mode=options.mode, strategy=options.strategy,
                               filters=options.filters)
    return pipeline.stream(AnswerRequest(question=question, conversation=options.history,
                                         **options.fields()))


def answer_events(pipeline, question: str, options: AskOptions,
                  trace_id: str | None = None) -> Iterator[AnswerEvent]:
    """The pipeline's ``stream`` (``ragloop.pipeline.Pipeline.stream``): deltas, then the
    final answer; a stream that ends without one is an error, not a silent empty answer."""
    with closing(_events(pipeline, question, options, trace_id)) as events:
        for event in events:
            yield event
            if event.kind == "answer":
                return
    raise RuntimeError("the pipeline's stream ended without a final answer")
