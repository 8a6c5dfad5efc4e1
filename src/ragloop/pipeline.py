"""The assembly point of one project: the one place that builds the configured parts (LLM,
judge LLM, embedder, store, retriever) and the one API that runs them — ``ingest``,
``retrieve``, ``ask``, ``stream``. The CLI, the server, the demo and the eval runner all go
through it, so they run exactly the same pipeline.

Parts may be passed in (a test's fake embedder, a worker's shared store, a notebook's
server LLM); the rest are built from ``ragloop.toml`` on first use. The pipeline closes
what it built (``close()``, or ``with Pipeline(...) as pipeline``) and never what it was
given: whoever made a part owns it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from functools import cached_property
from pathlib import Path

from ragloop.index.factory import BACKENDS, build_store
from ragloop.index.store import Store
from ragloop.models.embedder import CachedEmbedder, Embedder
from ragloop.models.factory import build_embedder, build_llm
from ragloop.models.llm import LLMClient
from ragloop.project import Project
from ragloop.records import Answer, AnswerEvent, AnswerRequest, Candidate, ChatReply, SearchQuery


class PipelineFactory:
    """Builds a project's ``Pipeline`` where it is called: the project root, not the
    pipeline, travels to an executor's workers (it pickles), and each worker builds its
    pipeline once."""

    def __init__(self, project_root: Path | str, use_cache: bool = True):
        self.project_root = str(project_root)
        self.use_cache = use_cache

    def __call__(self) -> Pipeline:
        return Pipeline(Project.load(self.project_root), use_cache=self.use_cache)


class Pipeline:
    def __init__(self, project: Project, *, use_cache: bool = True, store: Store | None = None,
                 llm: LLMClient | None = None, judge_llm: LLMClient | None = None,
                 embedder: Embedder | None = None):
        self.project = project
        self.settings = project.settings
        self.use_cache = use_cache
        BACKENDS.check(self.settings.index.backend)  # a typo fails now, not at first search
        self._owned = ExitStack()
        # parts given from outside take the place of the built ones (cached_property slots)
        for name, part in (("store", store), ("llm", llm), ("judge_llm", judge_llm),
                           ("embedder", embedder)):
            if part is not None:
                self.__dict__[name] = part
        self._given = {name for name in ("store", "llm", "judge_llm", "embedder")
                       if name in self.__dict__}

    @property
    def cache_dir(self) -> Path:
        return self.project.data_dir / "cache"

    @property
    def models_dir(self) -> Path:
        """Models registered by ``ragloop train`` (``[llm] model = "NAME"``)."""
        from ragloop.models.registry import models_root

        return models_root(self.project.data_dir)

    # ---- parts: built from config on first use unless given ----

    @cached_property
    def llm(self) -> LLMClient:
        llm = build_llm(self.settings.llm, self.cache_dir, use_cache=self.use_cache,
                        models_dir=self.models_dir)
        self._owned.callback(llm.close)
        return llm

    @cached_property
    def judge_llm(self) -> LLMClient:
        if self.settings.judge is None:
            return self.llm
        judge = build_llm(self.settings.judge, self.cache_dir, use_cache=self.use_cache,
                          models_dir=self.models_dir)
        self._owned.callback(judge.close)
        return judge

    @cached_property
    def embedder(self) -> Embedder:
        embedder = build_embedder(self.settings.embedder, self.cache_dir)
        if isinstance(embedder, CachedEmbedder):
            self._owned.callback(embedder.close)
        return embedder

    @cached_property
    def store(self) -> Store:
        """The project's index, chosen by ``[index] backend``."""
        store = build_store(self.settings.index, self.project.data_dir)
        self._owned.callback(store.close)
        return store

    @cached_property
    def retriever(self):
        """The configured retriever (``ragloop.retrieve.base.Retriever``): retrievers from
        ``[retrieve]``, fused, optionally reranked."""
        from ragloop.index.info import check_embedder
        from ragloop.retrieve.build import build_retriever

        # vectors of another embedder would be searched without a word: refuse instead
        check_embedder(self.store, self.embedder.model_id, self.embedder.dim)
        return build_retriever(self.settings.retrieve, self.store, self.embedder, self.llm)

    # ---- what callers run ----

    def ingest(self, paths: Iterable[Path | str] | Path | str, *, prune: bool = False,
               enrich: bool = True, progress: bool = False, reembed: bool = False,
               executor: str | None = None, workers: int | None = None, observer=None,
               namespace: str | None = None):
        """Ingest files and folders into the store (``ragloop.ingest.sync.ingest_paths``);
        the LLM is built only when ``[ingest]`` enrichment is on and ``enrich`` is True.
        ``executor``/``workers`` override ``[executor]``: with more than one local worker (or Ray)
        each worker builds its own embedder/LLM from this project's settings (parts given
        to this pipeline travel to the workers as they are). ``namespace`` gives the
        documents ids of their own (the server's uploads). Returns the ``IngestReport``."""
        from ragloop.executors.build import build_executor
        from ragloop.ingest.process import ModelSpec
        from ragloop.ingest.sync import ingest_paths

        settings = self.settings.ingest
        wants_llm = enrich and (settings.contextual or settings.questions_per_chunk > 0)
        llm = self.llm if wants_llm else None
        where = type(self.settings.executor).model_validate({
            **self.settings.executor.model_dump(),
            **{k: v for k, v in {"backend": executor, "workers": workers}.items()
               if v is not None}})
        pool = build_executor(where)
        models = None
        if pool.name != "inline" and not {"embedder", "llm"} & self._given:
            models = ModelSpec(self.settings.embedder, self.settings.llm if llm else None,
                               str(self.cache_dir), self.use_cache)
        try:
            return ingest_paths(paths, settings=settings, store=self.store,
                                embedder=self.embedder, llm=llm, prune=prune, enrich=enrich,
                                progress=progress, executor=pool, models=models,
                                reembed=reembed, observer=observer, namespace=namespace)
        finally:
            pool.close()

    @cached_property
    def answerer(self):
        """The answering entry point (``ragloop.answer.answerer.Answerer``), built once: its
        strategies are built once too, from this pipeline's parts."""
        from ragloop.answer.answerer import Answerer

        return Answerer(self.settings.answer, retriever=self.retriever, llm=self.llm,
                        embedder=self.embedder)

    def retrieve(self, query: str | SearchQuery, k: int | None = None,
                 filters=None) -> list[Candidate]:
        """Hybrid retrieval as ``[retrieve]`` configures it: candidates, best first. A
        ``SearchQuery`` weighs its parts (``ragloop.retrieve.query``)."""
        return self.retriever.search(query, k or self.settings.retrieve.k, filters)

    search = retrieve

    def request(self, question: str, **fields) -> AnswerRequest:
        """An ``AnswerRequest`` for ``question`` (``instruction``, ``mode``, ``strategy``,
        ``filters``, ``conversation``, ``budget`` ...)."""
        return AnswerRequest(question=question, **fields)

    def answer(self, request: AnswerRequest) -> Answer:
        """Answer one ``AnswerRequest`` (what ``ask`` builds from its arguments). A request
        with a ``conversation`` is answered as its next turn: the follow-up searched in its
        standalone form, the recent turns in the prompt (``ragloop.chat``); nothing is
        stored (``chat`` keeps a conversation)."""
        if request.conversation is not None:
            return self.chat_engine.answer(request)
        return self.answerer.answer(request)

    def ask(self, question: str, *, instruction: str = "", mode: str | None = None,
            strategy: str | None = None, filters=None) -> Answer:
        """Answer with citations using ``[answer]`` settings (overridable per call).
        ``instruction`` (e.g. "Answer with one word first: yes, no, maybe.") shapes the
        answer prompt; retrieval runs on ``question`` alone."""
        return self.answer(self.request(question, instruction=instruction, mode=mode,
                                        strategy=strategy, filters=filters))

    def stream(self, question: str | AnswerRequest, *, instruction: str = "",
               mode: str | None = None, strategy: str | None = None,
               filters=None) -> Iterator[AnswerEvent]:
        """``ask``, as ``AnswerEvent``s: text deltas, then the complete ``Answer``
        (``ragloop.answer.stream``). Takes a question or a whole ``AnswerRequest``."""
        request = question if isinstance(question, AnswerRequest) else self.request(
            question, instruction=instruction, mode=mode, strategy=strategy, filters=filters)
        if request.conversation is not None:
            return self.chat_engine.stream(request)
        return self.answerer.stream(request)

    # ---- conversations

    @cached_property
    def conversations(self):
        """The project's stored conversations (``feedback.conversations.ConversationStore``,
        beside the traces): ``get``, ``recent``, ``delete`` by id; bounded to ``[chat]
        history_tokens`` counted in the model's tokens."""
        from ragloop.feedback.conversations import ConversationStore

        store = ConversationStore.for_data_dir(
            self.project.data_dir, history_tokens=self.settings.chat.history_tokens,
            count_tokens=lambda text: self.llm.count_tokens(text))
        self._owned.callback(store.close)
        return store

    @cached_property
    def chat_engine(self):
        """Follow-ups answered with their conversation (``ragloop.chat.engine.Chat``)."""
        from ragloop.chat.engine import Chat

        return Chat(self.settings.chat, answerer=self.answerer, llm=self.llm,
                    store=self.store, conversations=lambda: self.conversations)

    def chat(self, conversation_id: str | None, question: str, *, trace_id: str | None = None,
             **request_fields) -> ChatReply:
        """Answer ``question`` as the next turn of a stored conversation and store the turn:
        ``conversation_id`` None starts one. Returns the ``ChatReply`` (``conversation_id``,
        ``answer``; ``answer.metadata["chat"]`` says what was searched and how).
        ``request_fields`` are ``AnswerRequest`` fields (``mode``, ``strategy``, ``filters``,
        ``instruction`` ...); ``trace_id`` names the turn's trace when the caller keeps one.
        An unknown id raises ``UnknownConversationError``."""
        return self.chat_engine.reply(conversation_id, question, trace_id=trace_id,
                                      **request_fields)

    def chat_stream(self, conversation_id: str | None, question: str, *,
                    trace_id: str | None = None, **request_fields):
        """``chat``, streamed: a ``ChatStream`` with the ``conversation_id`` at once and the
        ``AnswerEvent``s to iterate (text deltas, then the final answer); the turn is stored
        when the final event is read."""
        return self.chat_engine.reply_stream(conversation_id, question, trace_id=trace_id,
                                             **request_fields)

    def evaluate(self, dataset: Path | str | None = None, *, options=None, resume=None,
                 progress=None, executor=None):
        """Run (or resume) an evaluation of this pipeline on a golden dataset and write its
        run folder (``ragloop.evals.runner.run_eval``): per-example records, aggregates
        with intervals, the HTML report. ``options`` is an ``evals.runner.RunOptions``
        (default: ``[eval] workers`` threads, no judge); ``executor`` runs the examples
        on its workers, each building this project's pipeline. Returns the ``RunResult``
        (``run_dir``, ``aggregates``, ``errors``, ``warnings`` about unknown gold ids)."""
        from ragloop.evals.runner import RunOptions, run_eval

        options = options or RunOptions(workers=self.settings.eval.workers)
        return run_eval(self, dataset, options=options, resume=resume, progress=progress,
                        executor=executor,
                        worker_pipeline=self.factory() if executor is not None else None)

    def factory(self) -> PipelineFactory:
        """What builds this project's pipeline elsewhere (an executor's workers)."""
        return PipelineFactory(self.project.root, self.use_cache)

    # ---- lifetime ----

    def close(self) -> None:
        """Close what this pipeline built (store, model caches), last built first. Parts
        passed in are left open. Safe to call twice; a later use builds the parts anew."""
        self._owned.close()
        for name in {"store", "llm", "judge_llm", "embedder", "retriever",
                     "answerer", "conversations", "chat_engine"} - self._given:
            self.__dict__.pop(name, None)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
