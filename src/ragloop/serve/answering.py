"""How the server gets answers from a pipeline: whole (``ask``) or as events (text deltas,
then the full ``Answer``). Runs on the model thread; knows nothing of HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ragloop.records import Answer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AskOptions:
    mode: str | None = None
    strategy: str | None = None
    filters: Any = None


def ask(pipeline, question: str, options: AskOptions) -> Answer:
    return pipeline.ask(question, mode=options.mode, strategy=options.strategy,
                        filters=options.filters)


def _as_event(item: Any) -> tuple[str, Any]:
    if isinstance(item, str):
        return "delta", item
    if isinstance(item, Answer):
        return "answer", item
    if isinstance(getattr(item, "answer", None), Answer):
        return "answer", item.answer
    for name in ("delta", "text"):
        if isinstance(getattr(item, name, None), str):
            return "delta", getattr(item, name)
    raise TypeError(f"unexpected streaming event {type(item).__name__}")


def _stream_source(pipeline, question: str, options: AskOptions) -> Iterator[Any] | None:
    kwargs = {"mode": options.mode, "strategy": options.strategy, "filters": options.filters}
    if hasattr(pipeline, "stream"):
        return pipeline.stream(question, **kwargs)
    return None


def answer_events(pipeline, question: str, options: AskOptions) -> Iterator[tuple[str, Any]]:
    """Yield ``("delta", text)`` pieces, then one ``("answer", Answer)``.

    A pipeline's ``stream`` method (``ragloop.pipeline.Pipeline.stream``) supplies them;
    a pipeline without one is asked whole and the answer sent as one delta (logged)."""
    source = _stream_source(pipeline, question, options)
    if source is None:
        log.warning("no streaming answerer available; sending the answer in one piece")
        answer = ask(pipeline, question, options)
        yield "delta", answer.text
        yield "answer", answer
        return
    final = None
    for item in source:
        kind, value = _as_event(item)
        if kind == "answer":
            final = value
        else:
            yield kind, value
    if final is None:
        raise RuntimeError("the streaming answerer ended without a final answer")
    yield "answer", final
