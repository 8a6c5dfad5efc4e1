"""The composition root of one project: builds the configured models, store, retriever and
answerer once and hands them out. The CLI, the server and the eval runner all go through
this, so they run exactly the same pipeline.
"""

from __future__ import annotations

from functools import cached_property

from ragloop.models.embedder import Embedder
from ragloop.models.factory import build_embedder, build_llm
from ragloop.models.llm import LLMClient
from ragloop.project import Project


class Pipeline:
    def __init__(self, project: Project, *, use_cache: bool = True):
        self.project = project
        self.settings = project.settings
        self.use_cache = use_cache

    @property
    def cache_dir(self):
        return self.project.data_dir / "cache"

    @cached_property
    def llm(self) -> LLMClient:
        return build_llm(self.settings.llm, self.cache_dir, use_cache=self.use_cache)

    @cached_property
    def judge_llm(self) -> LLMClient:
        if self.settings.judge is None:
            return self.llm
        return build_llm(self.settings.judge, self.cache_dir, use_cache=self.use_cache)

    @cached_property
    def embedder(self) -> Embedder:
        return build_embedder(self.settings.embedder, self.cache_dir)

    # ---- the rooms below are wired here; each helper module owns its own construction ----

    @cached_property
    def store(self):
        """The project's index (``ragloop.index.store.Store``)."""
        from ragloop.index.embedded import open_store

        return open_store(self.project.data_dir / "index")

    @cached_property
    def retriever(self):
        """The configured retriever (``ragloop.retrieve.base.Retriever``): retrievers from
        ``[retrieve]``, fused, optionally reranked."""
        from ragloop.retrieve.build import build_retriever

        return build_retriever(self.settings.retrieve, self.store, self.embedder, self.llm)

    def retrieve(self, query: str, k: int | None = None, filters=None):
        return self.retriever.search(query, k or self.settings.retrieve.k, filters)

    def stream(self, question: str, *, mode: str | None = None, strategy: str | None = None,
               filters=None):
        """``ask``, as events: text deltas, then the complete ``Answer``
        (``ragloop.answer.stream.stream_answer``)."""
        from ragloop.answer.stream import stream_answer

        return stream_answer(question, settings=self.settings.answer, retriever=self.retriever,
                             llm=self.llm, mode=mode, strategy=strategy, filters=filters,
                             embedder=self.embedder)

    def ask(self, question: str, *, mode: str | None = None, strategy: str | None = None,
            filters=None):
        """Answer with citations using ``[answer]`` settings (overridable per call)."""
        from ragloop.answer.router import answer_question

        return answer_question(question, settings=self.settings.answer,
                               retriever=self.retriever, llm=self.llm, mode=mode,
                               strategy=strategy, filters=filters, embedder=self.embedder)
