"""``[retrieve]`` settings → the configured retriever: single-signal retrievers, fused,
optionally reranked. The one place where retrieval parts are chosen."""

from __future__ import annotations

from ragloop.config import RetrieveSettings
from ragloop.index.store import Store
from ragloop.models.embedder import Embedder
from ragloop.models.llm import LLMClient
from ragloop.retrieve.base import RERANKERS, SIGNALS
from ragloop.retrieve.dense import QueryEncoder
from ragloop.retrieve.fuse import FusionRetriever
from ragloop.retrieve.hits import HitRetriever
from ragloop.retrieve.rerank import Reranker, RerankingRetriever


def build_signal(name: str, store: Store, encoder: QueryEncoder | None) -> HitRetriever:
    return SIGNALS.get(name)(store, encoder, name)


def build_reranker(settings: RetrieveSettings, llm: LLMClient | None) -> Reranker | None:
    if settings.rerank == "none":
        return None
    return RERANKERS.get(settings.rerank)(settings, llm)


def build_retriever(settings: RetrieveSettings, store: Store, embedder: Embedder | None,
                    llm: LLMClient | None = None) -> HitRetriever:
    """The retriever ``[retrieve]`` describes (``ragloop.retrieve.base.Retriever``)."""
    needs_vectors = {"dense", "questions_dense"} & set(settings.retrievers)
    if needs_vectors and embedder is None:
        raise ValueError(f"retrievers {sorted(needs_vectors)} need an embedder")
    encoder = QueryEncoder(embedder) if embedder is not None else None
    signals = [build_signal(name, store, encoder) for name in settings.retrievers]
    retriever: HitRetriever = FusionRetriever(
        signals, method=settings.fusion, depth=settings.depth, weights=settings.weights,
        rrf_k=settings.rrf_k, normalization=settings.normalization)
    reranker = build_reranker(settings, llm)
    if reranker is not None:
        retriever = RerankingRetriever(retriever, reranker, depth=settings.rerank_depth,
                                       weight=settings.rerank_weight)
    return retriever
