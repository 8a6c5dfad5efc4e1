"""The steps every strategy shares: retrieve and pack context, refuse when support is weak,
make one grounded model call, and turn text with ``[n]`` markers into an ``Answer``."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from ragloop.answer.citations import drop_markers, extract_citations, is_refusal, with_markers
from ragloop.answer.history import format_history, prompt_extra
from ragloop.answer.json_stream import FieldStreamer
from ragloop.answer.prompt import (
    ANSWER_SCHEMA,
    INLINE_STOP,
    REFUSAL,
    CitationStyle,
    answer_messages,
    pack_context,
)
from ragloop.config import AnswerSettings
from ragloop.errors import SchemaValidationError
from ragloop.models.llm import LLMClient, TextSink, recorded_calls
from ragloop.records import Answer, AnswerRequest, Budget, Candidate, Completion, LLMCall
from ragloop.retrieve.base import Retriever
from ragloop.retrieve.query import Query, query_text


@dataclass
class Draft:
    """One model answer: text with markers (``[n]`` from either format) and its completion
    (the call itself is in the tally: the LLM client records it)."""

    text: str
    completion: Completion
    schema_error: str | None = None
    reasoning: str = ""  # chain-of-thought schema: the reasoning written before the answer


@dataclass
class Tally:
    """The calls made so far for one question, and the budget they are spent against.

    ``Tally.open(budget)`` opens it as an accounting scope of the LLM client
    (``recorded_calls``): every call made inside — answers, samples, verifier and
    sub-question calls, failed ones too — lands in ``calls`` without a strategy adding it."""

    budget: Budget = Budget()
    started: float = field(default_factory=time.perf_counter)
    calls: list[LLMCall] = field(default_factory=list)

    @classmethod
    @contextmanager
    def open(cls, budget: Budget = Budget()) -> Iterator[Tally]:
        with recorded_calls() as calls:
            yield cls(budget, calls=calls)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def tokens(self) -> int:
        return sum(c.prompt_tokens + c.completion_tokens for c in self.calls)

    def can_afford(self, latency_s: float = 0.0, tokens: int = 0) -> bool:
        """Whether one more step costing about this much stays within the budget."""
        if self.budget.max_latency_s and self.elapsed + latency_s > self.budget.max_latency_s:
            return False
        return not (self.budget.max_tokens and self.tokens + tokens > self.budget.max_tokens)


def retrieve(question: Query, retriever: Retriever, llm: LLMClient, settings: AnswerSettings,
             filters=None, *, max_tokens: int | None = None,
             extra_prompt: str = "") -> list[Candidate]:
    """Candidates for ``question`` (a string or a weighted ``SearchQuery``), best first,
    packed to fit the model's window beside ``extra_prompt``."""
    found = retriever.search(question, settings.context_chunks, filters)
    return pack_context(found, llm, question=query_text(question),
                        max_chunks=settings.context_chunks,
                        max_tokens=max_tokens or settings.max_tokens, extra_prompt=extra_prompt)


def weak_support(candidates: Sequence[Candidate], settings: AnswerSettings) -> str | None:
    """Why the answer must be a refusal before asking the model, or None."""
    if not candidates:
        return "no candidates"
    if settings.refuse_below and candidates[0].score < settings.refuse_below:
        return f"top retrieval score {candidates[0].score:.3f} < refuse_below"
    return None


class _Reader:
    """What a reader of a streamed draft sees: the ``answer`` field of JSON output (or the
    inline text as it comes), without leading whitespace."""

    def __init__(self, on_text: TextSink, field: str | None):
        self.on_text = on_text
        self.field = FieldStreamer(field) if field else None
        self.shown = False

    def __call__(self, piece: str) -> None:
        visible = self.field.feed(piece) if self.field else piece
        if not self.shown:
            visible = visible.lstrip()
        if visible:
            self.shown = True
            self.on_text(visible)


def generate(question: str, candidates: Sequence[Candidate], llm: LLMClient, *,
             style: CitationStyle, purpose: str, max_tokens: int, temperature: float = 0.0,
             seed: int = 0, instruction: str = "", answer_instruction: str = "",
             schema: dict | None = None, on_text: TextSink | None = None,
             history: str = "") -> Draft:
    """One grounded call. ``schema`` (json style) replaces ``ANSWER_SCHEMA`` by one with the
    same ``answer``/``sources`` fields (and optionally ``reasoning`` first). With
    ``on_text`` the call streams: the reader's text goes there as the model writes it (in
    json style the answer field, then the cited markers once the JSON closes)."""
    messages = answer_messages(question, candidates, style=style, instruction=instruction,
                               answer_instruction=answer_instruction, history=history)
    if style == "inline":
        completion = llm.complete(messages, temperature=temperature, max_tokens=max_tokens,
                                  seed=seed, stop=INLINE_STOP, purpose=purpose,
                                  on_text=_Reader(on_text, None) if on_text else None)
        return Draft(completion.text.strip(), completion)
    try:
        completion = llm.complete(messages, schema=schema or ANSWER_SCHEMA,
                                  temperature=temperature, max_tokens=max_tokens, seed=seed,
                                  purpose=purpose,
                                  on_text=_Reader(on_text, "answer") if on_text else None)
    except SchemaValidationError as err:
        # Usually the answer ran past max_tokens; keep what was said, and say so in metadata.
        return Draft(salvage_answer(err.raw_text), err.completion, schema_error=str(err)[:200])
    parsed = completion.parsed or {}
    sources = parsed.get("sources", [])
    cited = [n for n in sources if 1 <= n <= len(candidates)]
    if on_text is not None and cited:  # the reader saw the bare answer; show what it cites
        on_text(" " + " ".join(f"[{n}]" for n in cited))
    text = with_markers(str(parsed.get("answer", "")), sources)
    return Draft(text, completion, reasoning=str(parsed.get("reasoning", "")))


def salvage_answer(raw: str) -> str:
    start = raw.find('"answer"')
    if start < 0:
        return raw.strip()
    body = raw[start + len('"answer"'):].lstrip(" :").lstrip('"')
    return body.split('"')[0].strip()


def finish(question: str, text: str, candidates: Sequence[Candidate], *, strategy: str,
           tally: Tally, confidence: float | None = None,
           metadata: dict | None = None) -> Answer:
    """The ``Answer`` for ``text``: valid citations kept, invalid markers dropped and
    reported in ``metadata["invalid_markers"]``, refusals flagged."""
    citations, invalid = extract_citations(text, candidates)
    refused = not text.strip() or is_refusal(text)
    meta = dict(metadata or {})
    meta["invalid_markers"] = invalid
    meta["prompt_tokens"] = sum(c.prompt_tokens for c in tally.calls)
    meta["completion_tokens"] = sum(c.completion_tokens for c in tally.calls)
    if refused:
        meta.setdefault("refusal_reason", "model" if text.strip() else "empty answer")
    return Answer(question=question, text=drop_markers(text, invalid) if text.strip() else REFUSAL,
                  citations=() if refused else citations, candidates=tuple(candidates),
                  strategy=strategy, refused=refused, confidence=confidence,
                  calls=tuple(tally.calls), latency_s=tally.elapsed, metadata=meta)


def refusal(question: str, candidates: Sequence[Candidate], reason: str, *, strategy: str,
            tally: Tally) -> Answer:
    return Answer(question=question, text=REFUSAL, candidates=tuple(candidates),
                  strategy=strategy, refused=True, confidence=None, calls=tuple(tally.calls),
                  latency_s=tally.elapsed, metadata={"refusal_reason": reason,
                                                     "invalid_markers": []})


class GroundedStrategy:
    """Base of the strategies: retrieve, refuse on weak support, else ``answer``.

    A strategy is built once from its parts (settings, retriever, LLM, embedder) and
    answers any number of ``AnswerRequest``s, from several threads at once: what belongs to
    one question travels in the request and the ``Tally``, never on ``self``. Subclasses
    implement ``answer(request, candidates, tally)``; the router calls it directly to reuse
    one retrieval across a fast pass and a slow one. The request's ``instruction`` goes into
    the answer prompts, never into retrieval; its ``on_text`` receives the text of drafts
    made with ``stream=True`` as the model writes it.
    """

    name = "grounded"

    def __init__(self, settings: AnswerSettings, *, retriever: Retriever | None = None,
                 llm: LLMClient, embedder=None, style: CitationStyle | None = None):
        self.settings = settings
        self.retriever = retriever
        self.llm = llm
        self.embedder = embedder  # the project's embedder, for strategies that score text
        self.style: CitationStyle = style or settings.citation_style

    def run(self, request: AnswerRequest) -> Answer:
        with Tally.open(request.budget or Budget()) as tally:
            candidates = retrieve(request.query, self.retriever, self.llm, self.settings,
                                  request.filters, extra_prompt=prompt_extra(request))
            reason = weak_support(candidates, self.settings)
            if reason:
                return refusal(request.question, candidates, reason, strategy=self.name,
                               tally=tally)
            return self.answer(request, candidates, tally)

    def answer(self, request: AnswerRequest, candidates: Sequence[Candidate],
               tally: Tally) -> Answer:
        raise NotImplementedError

    def draft(self, request: AnswerRequest, candidates: Sequence[Candidate], tally: Tally, *,
              purpose: str, question: str | None = None, temperature: float | None = None,
              seed: int = 0, instruction: str = "", max_tokens: int | None = None,
              style: CitationStyle | None = None, schema: dict | None = None,
              answer_instruction: bool = True, stream: bool = False) -> Draft:
        """One grounded call on ``question`` (default: the request's) — the LLM client
        records it in ``tally``. ``answer_instruction`` False leaves the request's
        instruction out (a sub-question's answer); ``stream`` sends the text to the
        request's ``on_text`` as it comes. The request's conversation comes first in the
        prompt (``answer.history``)."""
        return generate(question or request.question, candidates, self.llm,
                        style=style or self.style, purpose=purpose,
                        max_tokens=max_tokens or self.settings.max_tokens,
                        temperature=(self.settings.temperature if temperature is None
                                     else temperature),
                        seed=seed, instruction=instruction,
                        answer_instruction=request.instruction if answer_instruction else "",
                        schema=schema, on_text=request.on_text if stream else None,
                        history=format_history(request.conversation))
