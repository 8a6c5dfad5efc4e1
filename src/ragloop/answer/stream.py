"""Streaming answers for people (``ragloop ask``, the server).

``stream_answer(question, *, settings, retriever, llm, mode=None, strategy=None,
filters=None)`` yields ``AnswerEvent``s: zero or more ``kind="delta"`` events whose ``text``
pieces concatenate to the answer text, then exactly one ``kind="answer"`` event whose
``answer`` is the complete ``records.Answer`` (citations, refusal, calls, latency) — the same
``Answer`` ``answer_question`` would return, with ``metadata["streamed"]`` saying whether the
text arrived token by token.

Token-by-token streaming happens for the one-pass ``direct`` strategy in both citation
styles: ``inline`` text as it comes, and the default ``json`` answer by decoding its
``answer`` field while the model writes it (the cited sources follow once the JSON closes).
Multi-call strategies (vote, best-of-N, ...) cannot be shown before they are decided, so
their text arrives as one delta once the answer is ready.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from ragloop.answer.citations import markers, with_markers
from ragloop.answer.grounded import Tally, finish, refusal, retrieve, salvage_answer, weak_support
from ragloop.answer.json_stream import FieldStreamer
from ragloop.answer.prompt import ANSWER_SCHEMA, INLINE_STOP, answer_messages
from ragloop.answer.router import answer_question, budget_of
from ragloop.config import AnswerSettings
from ragloop.errors import SchemaValidationError
from ragloop.models.llm import parse_json_output
from ragloop.records import Answer, LLMCall


@dataclass(frozen=True)
class AnswerEvent:
    kind: Literal["delta", "answer"]
    text: str = ""
    answer: Answer | None = None


def _streams(settings: AnswerSettings, mode: str | None, strategy: str | None) -> bool:
    name = strategy or (settings.strategy if (mode or settings.mode) == "fast" else None)
    return name == "direct"


def stream_answer(question: str, *, settings: AnswerSettings, retriever, llm,
                  mode: str | None = None, strategy: str | None = None,
                  filters=None, embedder=None) -> Iterator[AnswerEvent]:
    """Yield text deltas, then one final event with the complete ``Answer`` (see module doc)."""
    if not _streams(settings, mode, strategy):
        answer = answer_question(question, settings=settings, retriever=retriever, llm=llm,
                                 mode=mode, strategy=strategy, filters=filters,
                                 embedder=embedder)
        yield AnswerEvent("delta", answer.text)
        yield AnswerEvent("answer", answer=answer.model_copy(
            update={"metadata": {**answer.metadata, "streamed": False}}))
        return
    tally = Tally(budget_of(settings))
    candidates = retrieve(question, retriever, llm, settings, filters)
    reason = weak_support(candidates, settings)
    if reason:
        answer = refusal(question, candidates, reason, strategy="direct", tally=tally)
        yield AnswerEvent("delta", answer.text)
        yield AnswerEvent("answer", answer=answer.model_copy(
            update={"metadata": {**answer.metadata, "streamed": False}}))
        return
    style = settings.citation_style
    messages = answer_messages(question, candidates, style=style)
    started = time.perf_counter()
    pieces: list[str] = []
    field = FieldStreamer("answer") if style == "json" else None
    shown = False
    for piece in llm.stream(messages, schema=ANSWER_SCHEMA if field else None,
                            temperature=settings.temperature, max_tokens=settings.max_tokens,
                            stop=() if field else INLINE_STOP):
        pieces.append(piece)
        visible = field.feed(piece) if field else piece
        if not shown:
            visible = visible.lstrip()
        if visible:
            shown = True
            yield AnswerEvent("delta", visible)
    raw = "".join(pieces).strip()
    # The stream carries no usage counts, so the record's tokens are counted afterwards.
    tally.add(LLMCall(purpose="answer", model=llm.model_id,
                      prompt_tokens=sum(llm.count_tokens(m.content) for m in messages),
                      completion_tokens=llm.count_tokens(raw) if raw else 0,
                      latency_s=time.perf_counter() - started))
    metadata = {"streamed": True}
    text = raw
    if field is not None:
        try:
            parsed = parse_json_output(raw, ANSWER_SCHEMA)
            text = with_markers(str(parsed.get("answer", "")), parsed.get("sources", []))
            cited = [n for n in parsed.get("sources", []) if 1 <= n <= len(candidates)]
            if cited:  # the reader saw the bare answer; show what it cites
                yield AnswerEvent("delta", " " + " ".join(f"[{n}]" for n in cited))
        except SchemaValidationError as err:  # e.g. cut at max_tokens: keep what was said
            text = salvage_answer(raw)
            metadata["schema_error"] = str(err)[:200]
    answer = finish(question, text, candidates, strategy="direct", tally=tally,
                    metadata=metadata)
    if answer.metadata["invalid_markers"] and markers(text):
        # The reader saw the raw text; the final event carries it cleaned.
        answer = answer.model_copy(update={"metadata": {**answer.metadata,
                                                        "cleaned_text": True}})
    yield AnswerEvent("answer", answer=answer)
