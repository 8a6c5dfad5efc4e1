"""``Answerer``: the one entry point for answering. Built once per pipeline from its parts
(``[answer]`` settings, retriever, LLM, embedder), it builds each strategy once, on first
use, and answers ``AnswerRequest``s — whole (``answer``) or streamed (``stream``).

Which strategy answers: the request's ``strategy`` when it names one; else its ``mode``
(default ``[answer] mode``): ``fast`` runs ``[answer] strategy``, ``slow`` runs
``[answer] slow_strategy``, ``auto`` the router (``ragloop.answer.router``). The budget is the
request's, else ``[answer] max_latency_s`` / ``max_tokens_per_query``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import cached_property

from ragloop.answer.router import Router
from ragloop.answer.strategies import STRATEGIES
from ragloop.answer.stream import stream_answer
from ragloop.config import AnswerSettings
from ragloop.errors import UnknownPartError
from ragloop.records import Answer, AnswerEvent, AnswerRequest, Budget

MODES = ("fast", "slow", "auto")


def budget_of(settings: AnswerSettings) -> Budget:
    return Budget(max_latency_s=settings.max_latency_s,
                  max_tokens=settings.max_tokens_per_query)


class Answerer:
    def __init__(self, settings: AnswerSettings, *, retriever, llm, embedder=None):
        self.settings = settings
        self.retriever = retriever
        self.llm = llm
        self.embedder = embedder
        self._strategies: dict[str, object] = {}
        self._lock = threading.Lock()

    def strategy(self, name: str):
        """The strategy registered as ``name``, built once (``UnknownPartError`` if none)."""
        with self._lock:
            built = self._strategies.get(name)
            if built is None:
                built = STRATEGIES.get(name)(self.settings, retriever=self.retriever,
                                             llm=self.llm, embedder=self.embedder)
                self._strategies[name] = built
            return built

    @cached_property
    def router(self) -> Router:
        return Router(self.settings, retriever=self.retriever, llm=self.llm,
                      embedder=self.embedder, strategies=self.strategy)

    def chosen(self, request: AnswerRequest):
        """The strategy (or the router) that answers ``request``."""
        mode = request.mode or self.settings.mode
        if request.strategy:
            return self.strategy(request.strategy)
        if mode not in MODES:
            raise UnknownPartError("answer mode", mode, MODES, key="answer.mode")
        if mode == "auto":
            return self.router
        return self.strategy(self.settings.strategy if mode == "fast"
                             else self.settings.slow_strategy)

    def answer(self, request: AnswerRequest) -> Answer:
        """Answer ``request`` with citations."""
        if request.budget is None:
            request = request.model_copy(update={"budget": budget_of(self.settings)})
        answer = self.chosen(request).run(request)
        noted = {}
        if request.instruction:
            noted["instruction"] = request.instruction
        if request.search_query:  # what was searched, when it was not the question
            noted["search_query"] = request.query_text
        if noted:
            answer = answer.model_copy(update={"metadata": {**answer.metadata, **noted}})
        return answer

    def stream(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        """``answer``, as text deltas and then the complete ``Answer``
        (``ragloop.answer.stream``)."""
        return stream_answer(self.answer, request)
