"""The ``Strategy`` protocol: how a question becomes an answer, given retrieval and a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ragloop.models.llm import LLMClient
from ragloop.records import Answer
from ragloop.retrieve.base import Retriever


@dataclass(frozen=True)
class Budget:
    """Limits for one query; 0 means no limit."""

    max_latency_s: float = 0.0
    max_tokens: int = 0


@runtime_checkable
class Strategy(Protocol):
    name: str

    def run(self, question: str, retriever: Retriever, llm: LLMClient,
            budget: Budget = Budget()) -> Answer: ...
