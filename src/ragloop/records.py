"""The typed records that flow through ragloop.

Records are immutable values (frozen pydantic models). Stores own persistence; functions
return new records rather than mutating old ones. This module imports nothing of ragloop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def content_hash(text: str) -> str:
    """Stable hash of a text, used for change detection and caches."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------- documents


class Section(Record):
    """A heading in a document: its level (1 = top), title, and character span of its body."""

    level: int
    title: str
    start: int
    end: int


class IngestRecipe(Record):
    """How a document's chunks and vectors were made; ``fingerprint`` hashes all of it."""

    fingerprint: str
    chunker: str = ""
    dense_fields: tuple[str, ...] = ()
    lexical_fields: tuple[str, ...] = ()
    contextual: bool = False
    questions_per_chunk: int = 0
    embedder: str = ""  # model id of the embedder that made the vectors ("" in old indexes)


class Bookkeeping(Record):
    """What ingestion records about a document for incremental sync and duplicate detection.
    Kept apart from ``Document.metadata``, which is the user's namespace (filters read it)."""

    file_hash: str | None = None  # bytes + loader version (loaders.base.file_key)
    text_hash: str | None = None  # hash of the cleaned text: exact duplicates
    minhash: str | None = None  # encoded MinHash signature: near duplicates
    ingest: IngestRecipe | None = None


class Document(Record):
    id: str
    source: str  # path or URI the document came from
    title: str
    text: str
    content_hash: str
    mtime: float | None = None
    sections: tuple[Section, ...] = ()
    # page starts (character offsets) for paged formats such as PDF; page n starts at pages[n-1]
    pages: tuple[int, ...] = ()
    metadata: dict[str, Any] = Field(default_factory=dict)
    bookkeeping: Bookkeeping = Bookkeeping()


class Chunk(Record):
    id: str
    doc_id: str
    ordinal: int  # position within the document
    text: str  # the chunk's own text, as cut from the document
    start: int = 0  # character span in the document text
    end: int = 0
    section_path: tuple[str, ...] = ()
    page: int | None = None  # the page the chunk starts on (paged formats)
    page_end: int | None = None  # the page it ends on
    context: str = ""  # LLM-written situating sentence(s), empty when not enriched
    header: str = ""  # deterministic header: document title and section path
    dense_text: str = ""  # the text that is embedded (header/context/text per config)
    lexical_text: str = ""  # the text that BM25 indexes
    n_tokens: int = 0  # size in the embedder's tokens
    metadata: dict[str, Any] = Field(default_factory=dict)


class Question(Record):
    """A hypothetical question a chunk answers, indexed on its own and pointing to the chunk."""

    id: str
    chunk_id: str
    doc_id: str
    text: str


# ----------------------------------------------------------------------------- retrieval


class Candidate(Record):
    """One retrieved chunk. ``scores`` and ``ranks`` keep each signal, keyed by retriever name,
    so fusion, ``--explain`` and evals can see where a result came from."""

    chunk: Chunk
    score: float
    scores: dict[str, float] = Field(default_factory=dict)
    ranks: dict[str, int] = Field(default_factory=dict)
    matched_question: str | None = None


# ----------------------------------------------------------------------------- models


Role = Literal["system", "user", "assistant"]


class Message(Record):
    role: Role
    content: str


class Completion(Record):
    text: str
    parsed: Any = None  # the JSON value when a schema was requested
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    model: str = ""
    finish_reason: str | None = None
    cached: bool = False


class LLMCall(Record):
    """What one model call cost, recorded by the LLM client into the open tally (see
    ``ragloop.models.llm.recorded_calls``) and read by answers and traces."""

    purpose: str  # e.g. "answer", "vote-3", "judge-faithfulness"
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cached: bool = False
    failed: bool = False  # the call raised (e.g. output not valid for its schema)


# ----------------------------------------------------------------------------- answers


class Citation(Record):
    marker: int  # the n of "[n]" in the answer text
    chunk_id: str
    doc_id: str
    source: str
    title: str = ""
    quote: str = ""
    place: str = ""  # where in the source: "p. 12", "slide 3", "sheet Sales", a section path


class Answer(Record):
    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    strategy: str = "direct"
    refused: bool = False
    confidence: float | None = None
    calls: tuple[LLMCall, ...] = ()
    latency_s: float = 0.0
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def prompt_tokens(self) -> int:
        return sum(c.prompt_tokens for c in self.calls)

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.calls)

    @property
    def cached(self) -> bool:
        """Every model call of this answer came from the cache (False with no call)."""
        return bool(self.calls) and all(c.cached for c in self.calls)

    @property
    def route(self) -> dict[str, Any]:
        """Why this strategy answered: the router's decision in ``auto`` mode (mode, chosen,
        reason, floor, escalated), else the mode that named the strategy."""
        router = self.metadata.get("router") or {}
        if not router:
            return {"mode": self.metadata.get("mode", ""), "chosen": self.strategy,
                    "reason": "", "floor": False, "escalated": False}
        return {key: router.get(key) for key in ("mode", "chosen", "reason", "floor",
                                                 "escalated")}


class AnswerEvent(Record):
    """What a streamed answer yields: ``delta`` events whose ``text`` pieces concatenate to
    what the reader sees, then exactly one ``answer`` event carrying the complete
    ``Answer``."""

    kind: Literal["delta", "answer"]
    text: str = ""
    answer: Answer | None = None

    @classmethod
    def delta(cls, text: str) -> AnswerEvent:
        return cls(kind="delta", text=text)

    @classmethod
    def final(cls, answer: Answer) -> AnswerEvent:
        return cls(kind="answer", answer=answer)


class Budget(Record):
    """Limits for one question's answer; 0 means no limit."""

    max_latency_s: float = 0.0
    max_tokens: int = 0


class QueryPart(Record):
    text: str
    weight: float = 1.0


class SearchQuery(Record):
    """A query made of weighted texts: BM25 adds each part's scores times its weight (the
    same as weighting the part's terms), dense search mixes the parts' query vectors by
    weight. A follow-up made standalone by carrying terms of earlier turns is one: the
    follow-up at weight 1, the carried terms lower (``ragloop.chat``)."""

    parts: tuple[QueryPart, ...]

    @property
    def text(self) -> str:
        """The parts as one text, for whatever reads a query as words (a reranker, the
        trace, the extractive floor)."""
        return " ".join(p.text.strip() for p in self.parts if p.text.strip())


class Turn(Record):
    """One exchange of a conversation: the question as the user wrote it, the answer shown,
    its citations, the query that was searched for it, and its trace."""

    question: str
    answer: str
    citations: tuple[Citation, ...] = ()
    search_query: str = ""  # the standalone query retrieval ran on ("" : the question)
    trace_id: str | None = None
    created: datetime | None = None


class Conversation(Record):
    """Turns in order, oldest first. ``summary`` stands for turns dropped to fit the history
    budget (``[chat] history_tokens``)."""

    id: str
    turns: tuple[Turn, ...] = ()
    summary: str = ""
    created: datetime | None = None
    updated: datetime | None = None


class AnswerRequest(Record):
    """Everything one answer depends on besides the parts it is answered with: what a
    caller asks, handed unchanged from the surface (CLI, server, MCP, eval runner) to the
    strategy. Strategies are built once from their dependencies (retriever, LLM, embedder);
    per-question state travels here.

    ``instruction`` shapes the answer prompt only (e.g. an eval's label instruction);
    ``search_query`` is what retrieval runs on when it differs from the question (a
    follow-up made standalone from ``conversation``); ``on_text`` receives the answer text
    as the model writes it; ``budget`` None means ``[answer]``'s limits."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    question: str
    instruction: str = ""
    filters: Any = None  # ragloop.index.store.Filters, honoured by every retriever
    conversation: Conversation | None = None
    search_query: str | SearchQuery = ""
    mode: str | None = None
    strategy: str | None = None
    budget: Budget | None = None
    on_text: Callable[[str], None] | None = Field(default=None, exclude=True, repr=False)

    @property
    def query(self) -> str | SearchQuery:
        """What retrieval searches for."""
        return self.search_query or self.question

    @property
    def query_text(self) -> str:
        """What retrieval searches for, as words (the question when nothing else is
        searched): what the extractive floor and the router measure relevance against."""
        query = self.query
        return query.text if isinstance(query, SearchQuery) else query

    @property
    def history(self) -> tuple[Turn, ...]:
        return self.conversation.turns if self.conversation else ()


class ChatReply(Record):
    """A turn of a stored conversation as ``Pipeline.chat`` returns it: the conversation's
    id (new when none was given) and the answer; ``answer.metadata["chat"]`` says what was
    searched and which condenser made it."""

    conversation_id: str
    answer: Answer


# ----------------------------------------------------------------------------- traces & feedback


class Span(Record):
    name: str  # retrieve | rerank | generate | judge | ...
    start: datetime
    end: datetime
    attributes: dict[str, Any] = Field(default_factory=dict)


class Trace(Record):
    id: str
    created: datetime
    question: str
    answer: str
    strategy: str
    spans: tuple[Span, ...] = ()
    retrieved_ids: tuple[str, ...] = ()
    metadata: dict[str, Any] = Field(default_factory=dict)


class Feedback(Record):
    id: str
    trace_id: str
    created: datetime
    rating: Literal["up", "down"] | None = None
    corrected_answer: str | None = None
    comment: str | None = None


LabelMetric = Literal["faithfulness", "correctness", "relevance"]


class Label(Record):
    """A reviewer's verdict on one answer of live traffic: is it faithful to its sources,
    correct, relevant (``label`` 1 yes, 0 no). What was judged is kept with it (question,
    answer, the retrieved context) so a label outlives its trace. ``split`` is fixed per
    trace when its first label is stored: "test" labels are what a judge's kappa is
    measured on, "train" ones what a judge may be fitted on."""

    id: str
    trace_id: str
    metric: LabelMetric
    label: Literal[0, 1]
    created: datetime
    split: Literal["train", "test"]
    reviewer: str = ""
    note: str = ""
    question: str = ""
    answer: str = ""
    context: str = ""


OnlineStatus = Literal["ok", "error", "timeout", "skipped"]


class OnlineScore(Record):
    """One check of one live trace, as the monitor scored it. ``value`` is None unless
    ``status`` is "ok"; ``detail`` says why a check failed, was skipped, or what it found."""

    trace_id: str
    metric: str  # the eval metric names where they coincide (citation_precision, ...)
    value: float | None
    status: OnlineStatus = "ok"
    detail: str = ""
    check: str = ""  # what produced it: grounding, citations, likelihood, judge
    model: str = ""  # the judge model, for checks that call one
    created: datetime


# ----------------------------------------------------------------------------- evals


class EvalExample(Record):
    id: str
    question: str
    reference_answers: tuple[str, ...] = ()
    label: str | None = None  # short categorical answer, e.g. yes/no/maybe
    gold_doc_ids: tuple[str, ...] = ()
    gold_chunk_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = Field(default_factory=dict)
    # the turns before this question when it is a follow-up in a conversation
    history: tuple[Turn, ...] = ()


class RetrievedRef(Record):
    """One retrieved chunk as an eval record keeps it."""

    chunk_id: str
    doc_id: str
    score: float
    title: str = ""  # the chunk's header: document title > section path
    source: str = ""  # the document's file (or file#record); empty in older run folders
    place: str = ""  # page(s), slide, sheet or section (answer.citations.place)


class ContextRef(Record):
    """One chunk put in the answer prompt, with its text."""

    chunk_id: str
    doc_id: str
    text: str = ""
    title: str = ""  # as in RetrievedRef
    source: str = ""


class CitedRef(Record):
    marker: int
    chunk_id: str
    doc_id: str


class EvalLatency(Record):
    retrieve_s: float = 0.0
    answer_s: float = 0.0
    judge_s: float = 0.0
    total_s: float = 0.0  # retrieve + answer (judging is the evaluator's cost, not the pipeline's)


class EvalTokens(Record):
    prompt: int = 0
    completion: int = 0
    calls: int = 0
    cached_calls: int = 0


class EvalRecord(Record):
    """One evaluated example, as ``ragloop eval run`` writes it to ``examples.jsonl``: what
    was asked, retrieved, put in the prompt and answered, its scores and costs. A failed
    example has ``error`` set and the answer fields empty.

    Run folders written before this type (the record was a plain dict) load as they are:
    they hold the same keys, with the label instruction only inside ``asked``."""

    # a record from another version may carry a key this one dropped: load it, ignore it
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    question: str
    instruction: str = ""  # the answer instruction (e.g. the label one); not retrieved on
    history: tuple[Turn, ...] = ()  # the conversation before a follow-up
    search_query: str = ""  # what a follow-up was searched as (empty: the question)
    asked: str = ""  # what the model was asked: the question, then the instruction
    tags: tuple[str, ...] = ()
    label: str | None = None
    labels: tuple[str, ...] = ()  # the dataset's label set
    reference_answers: tuple[str, ...] = ()
    gold_doc_ids: tuple[str, ...] = ()
    gold_chunk_ids: tuple[str, ...] = ()
    error: str | None = None
    traceback: str | None = None
    retrieved: tuple[RetrievedRef, ...] = ()
    context: tuple[ContextRef, ...] = ()
    answer: str = ""
    refused: bool = False
    strategy: str = ""
    citations: tuple[CitedRef, ...] = ()
    predicted_label: str | None = None
    judges: dict[str, dict[str, Any]] = Field(default_factory=dict)
    scores: dict[str, float] = Field(default_factory=dict)
    latency: EvalLatency = EvalLatency()
    tokens: EvalTokens = EvalTokens()

    @property
    def ok(self) -> bool:
        return not self.error


class RunManifest(Record):
    """An eval run's manifest (``run.json``): what was run, on what, and how it ended.
    ``judge_calibration`` holds each judge's agreement with human labels as known when the
    run started (``evals.judge_agreement``); ``usage`` what the run's model calls cost."""

    # manifests of other versions may carry keys this one does not know
    model_config = ConfigDict(frozen=True, extra="ignore")

    created: str = ""
    dataset: str = ""
    dataset_hash: str = ""
    config_hash: str = ""
    options: dict[str, Any] = Field(default_factory=dict)
    model: dict[str, Any] | str | None = None
    judge_model: str | None = None
    judge_prompt_version: str = "v1"
    judge_calibration: dict[str, dict[str, Any]] | None = None
    n_examples: int = 0
    status: Literal["running", "complete"] = "running"
    finished: str | None = None
    usage: dict[str, float] = Field(default_factory=dict)


# ----------------------------------------------------------------------------- trained models


# What ``[train] output`` writes; the names registered models written before these kinds
# existed carry are read as the kinds they were
OutputKind = Literal["merged-gguf", "lora-gguf", "peft-adapter", "merged-safetensors"]
OLD_OUTPUT_KINDS = {"merged": "merged-gguf", "adapter": "lora-gguf"}


class LineageRecord(Record):
    # lineage files of an older version may carry a key this one dropped: load, ignore
    model_config = ConfigDict(frozen=True, extra="ignore")


class TrainedBase(LineageRecord):
    """The model training started from."""

    path: str  # as given (a GGUF file or a Hugging Face folder)
    hf_dir: str  # the Hugging Face folder torch trained (a GGUF is dequantised into one)
    gguf: str | None = None  # the base's GGUF, for GGUF outputs and llama.cpp
    sha256: str = ""


class TrainedData(LineageRecord):
    path: str
    sha256: str
    rows: int
    skipped_too_long: int = 0
    eval_checked: str | None = None  # the eval set its rows were checked against


class TrainedOutput(LineageRecord):
    """What was written: a file (GGUF) or a folder (adapter, safetensors) in the model's
    registry folder, and its hash (of the file, or of the folder's files)."""

    kind: OutputKind
    file: str
    sha256: str = ""
    bytes: int = 0
    quant: str | None = None  # merged-gguf
    base_gguf: str | None = None  # lora-gguf: the GGUF llama.cpp applies it to

    @model_validator(mode="after")
    def _lora_names_its_base(self) -> TrainedOutput:
        if self.kind == "lora-gguf" and not self.base_gguf:
            raise ValueError("a lora-gguf output names the base GGUF it applies to")
        return self


class TrainingCost(LineageRecord):
    steps: int
    examples_seen: int
    seconds: float
    s_per_example: float
    peak_rss_mb: float = 0.0
    resumed_from: int = 0
    losses: tuple[float, ...] = ()
    stats: dict[str, float] = Field(default_factory=dict)
    device: str = "cpu"
    dtype: str = "float32"
    peak_gpu_mb: float | None = None


class LossChange(LineageRecord):
    before: float | None = None
    after: float | None = None


class GateResultRecord(LineageRecord):
    """The last gate of a trained model: base and tuned on one eval set."""

    dataset: str
    metric: str
    before: dict[str, Any]  # the base run's aggregates
    after: dict[str, Any]  # the tuned run's aggregates
    delta: dict[str, Any] | None = None
    runs: tuple[str, ...] = ()
    gate_passed: bool = False
    backend: str = "llamacpp"
    base_model: str = ""  # what answered as the base: a GGUF path or a served model name
    tuned_model: str = ""


class LineageMetrics(LineageRecord):
    train_loss: LossChange = LossChange()
    eval: GateResultRecord | None = None


class ModelLineage(LineageRecord):
    """``lineage.json`` of a model registered by ``ragloop train``: what it was made from,
    how, what was written, and how it scored."""

    name: str
    created: str
    method: str
    seed: int = 0
    base: TrainedBase
    data: TrainedData
    config: dict[str, Any] = Field(default_factory=dict)  # the [train] settings used
    output: TrainedOutput
    training: TrainingCost
    metrics: LineageMetrics = LineageMetrics()

    @classmethod
    def from_json(cls, text: str) -> ModelLineage:
        """A lineage from its JSON, including files written before the output kinds were
        renamed (``merged``, ``adapter``)."""
        import json

        data = json.loads(text)
        output = data.get("output")
        if isinstance(output, dict) and output.get("kind") in OLD_OUTPUT_KINDS:
            data["output"] = {**output, "kind": OLD_OUTPUT_KINDS[output["kind"]]}
        return cls.model_validate(data)

    @property
    def output_sha256(self) -> str:
        return self.output.sha256
