"""What every exporter reads: one ``Judged`` item per trace that has feedback."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from ragloop.feedback.store import TraceStore, TraceWithFeedback

Messages = list[dict[str, str]]
CONTEXT_CHUNKS = 5  # passages shown in the prompt when the answer cited none


@dataclass(frozen=True)
class Judged:
    """A question, the answer given, and what the user said about it (latest wins)."""

    trace_id: str
    question: str
    prompt: Messages  # conversational prompt: the question, with its passages when asked
    answer: str
    rating: str | None  # "up" | "down" | None
    correction: str | None

    @property
    def question_key(self) -> str:
        return " ".join(self.question.lower().split())


def prompt_messages(item: TraceWithFeedback, *, with_context: bool) -> Messages:
    """The user turn: the passages the answer cited, numbered by their citation markers (so
    ``[n]`` in answers and corrections keeps its meaning), then the question."""
    trace = item.trace
    chunks = trace.metadata.get("chunks", []) if with_context else []
    cited = sorted(((min(c["markers"]), c) for c in chunks if c.get("markers")),
                   key=lambda pair: pair[0])
    if not cited:
        cited = list(enumerate(chunks[:CONTEXT_CHUNKS], start=1))
    if not cited:
        return [{"role": "user", "content": trace.question}]
    passages = "\n\n".join(f"[{n}] {c.get('title') or c.get('source', '')}\n{c['text']}"
                           for n, c in cited)
    return [{"role": "user",
             "content": f"Passages:\n{passages}\n\nQuestion: {trace.question}"}]


def judged_items(store: TraceStore, *, with_context: bool = True) -> Iterator[Judged]:
    for item in store.iter_with_feedback():
        yield Judged(trace_id=item.trace.id, question=item.trace.question,
                     prompt=prompt_messages(item, with_context=with_context),
                     answer=item.trace.answer, rating=item.latest_rating,
                     correction=item.latest_correction)


def assistant(text: str) -> Messages:
    return [{"role": "assistant", "content": text}]


class Exporter(Protocol):
    name: str
    columns: tuple[str, ...]

    def rows(self, items: Iterable[Judged]) -> Iterator[dict]: ...
