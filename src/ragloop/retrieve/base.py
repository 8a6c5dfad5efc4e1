"""The ``Retriever`` protocol: a query in, candidates out, each signal's score kept."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ragloop.index.store import Filters
from ragloop.records import Candidate


@runtime_checkable
class Retriever(Protocol):
    name: str

    def search(self, query: str, k: int = 10,
               filters: Filters | None = None) -> list[Candidate]: ...
