"""``[retrieve]`` settings → the configured retriever: single-signal retrievers, fused,
optionally reranked. The one place where retrieval parts are chosen."""

from __future__ import annotations

from collections.abc import Callable

from ragloop.config import RetrieveSettings
from ragloop.index.store import Store
from ragloop.models.embedder import Embedder
from ragloop.models.llm import LLMClient
from ragloop.retrieve.dense import DenseRetriever, QueryEncoder
from ragloop.retrieve.fuse import FusionRetriever
from ragloop.retrieve.hits import HitRetriever
from ragloop.retrieve.lexical import BM25Retriever
from ragloop.retrieve.questions import QuestionRetriever
from ragloop.retrieve.rerank import Reranker, RerankingRetriever

# name → how to build that signal's retriever over ``store``; a new signal is a module
# with its retriever plus one line here (and its name in ``config.RetrieverName``)
SIGNALS: dict[str, Callable[[Store, QueryEncoder | None, str], HitRetriever]] = {
    "bm25": lambda store, encoder, name: BM25Retriever(store, name),
    "dense": lambda store, encoder, name: DenseRetriever(store, encoder, name),
    "questions_bm25": lambda store, encoder, name: QuestionRetriever(store, name),
    "questions_dense": lambda store, encoder, name: QuestionRetriever(store, name,
                                                                      encoder=encoder),
}


def build_signal(name: str, store: Store, encoder: QueryEncoder | None) -> HitRetriever:
    if name not in SIGNALS:
        raise ValueError(f"unknown retriever {name!r}")
    return SIGNALS[name](store, encoder, name)


def build_reranker(settings: RetrieveSettings, llm: LLMClient | None) -> Reranker | None:
    if settings.rerank == "llm":
        from ragloop.retrieve.rerank_llm import LLMReranker

        if llm is None:
            raise ValueError("[retrieve] rerank = 'llm' needs an LLM")
        return LLMReranker(llm)
    if settings.rerank == "cross-encoder":
        from ragloop.retrieve.rerank_cross_encoder import CrossEncoderReranker

        return CrossEncoderReranker(settings.cross_encoder_path)
    return None


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
