"""The ``Retriever`` protocol: a query in, candidates out, each signal's score kept; and the
registries of retrieval parts.

``SIGNALS``: a single-signal retriever, registered by the function that builds it —
``@SIGNALS.register("bm25")`` on ``build(store, encoder, name) -> HitRetriever`` (``encoder``
is the query encoder over the project's embedder, or None). ``RERANKERS``: a reranker,
registered by ``build(settings: RetrieveSettings, llm) -> Reranker``. Modules of this
package are found by themselves; outside ones join through the ``ragloop.retrievers`` and
``ragloop.rerankers`` entry points."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ragloop.index.store import Filters
from ragloop.records import Candidate, SearchQuery
from ragloop.registry import Registry

SIGNALS: Registry = Registry("retriever", key="retrieve.retrievers", package="ragloop.retrieve",
                             group="ragloop.retrievers")
RERANKERS: Registry = Registry("reranker", key="retrieve.rerank", package="ragloop.retrieve",
                               group="ragloop.rerankers")


@runtime_checkable
class Retriever(Protocol):
    """``query`` is a string or a ``records.SearchQuery`` of weighted parts; a signal reads
    it through ``ragloop.retrieve.query`` (``weighted_lexical``, ``mixed_vector``)."""

    name: str

    def search(self, query: str | SearchQuery, k: int = 10,
               filters: Filters | None = None) -> list[Candidate]: ...
