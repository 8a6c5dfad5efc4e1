"""The ``Strategy`` protocol: how a question becomes an answer. A strategy is built once
from its parts (settings, retriever, LLM, embedder) and answers ``AnswerRequest``s."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ragloop.records import Answer, AnswerRequest


@runtime_checkable
class Strategy(Protocol):
    name: str

    def run(self, request: AnswerRequest) -> Answer: ...
