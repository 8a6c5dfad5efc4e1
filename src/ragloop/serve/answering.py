"""How the server gets answers from a pipeline: whole (``ask``) or as ``AnswerEvent``s
(text deltas, then the full ``Answer``). Runs on the model thread; knows nothing of HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from ragloop.records import Answer, AnswerEvent


@dataclass(frozen=True)
class AskOptions:
    mode: str | None = None
    strategy: str | None = None
    filters: Any = None


def ask(pipeline, question: str, options: AskOptions) -> Answer:
    return pipeline.ask(question, mode=options.mode, strategy=options.strategy,
                        filters=options.filters)


def answer_events(pipeline, question: str, options: AskOptions) -> Iterator[AnswerEvent]:
    """The pipeline's ``stream`` (``ragloop.pipeline.Pipeline.stream``): deltas, then the
    final answer; a stream that ends without one is an error, not a silent empty answer."""
    with closing(pipeline.stream(question, mode=options.mode, strategy=options.strategy,
                                 filters=options.filters)) as events:
        for event in events:
            yield event
            if event.kind == "answer":
                return
    raise RuntimeError("the pipeline's stream ended without a final answer")
