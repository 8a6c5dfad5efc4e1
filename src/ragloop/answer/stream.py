"""Streaming answers for people (``ragloop ask``, the server): the same answer every other
caller gets (``Answerer.answer``), with its generation in streaming mode.

``stream_answer(answer, request)`` yields ``records.AnswerEvent``s: zero or more ``delta``
events whose ``text`` pieces concatenate to what the reader sees, then exactly one
``answer`` event with the complete ``Answer`` — the one ``answer(request)`` returns (same
calls, same cache), with ``metadata["streamed"]`` saying whether the text arrived token by
token. Strategies whose one draft is the answer (``direct``) stream as the model writes;
multi-call strategies cannot be shown before they are decided, so their text arrives as one
delta once the answer is ready.

The strategies are plain functions that hand text to a callback, so the answer is worked
out on a helper thread while this generator hands its pieces out; closing the generator
early stops the model at its next piece.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Iterator

from ragloop.records import Answer, AnswerEvent, AnswerRequest

__all__ = ["AnswerEvent", "stream_answer"]


class _Closed(Exception):
    """The reader went away: unwinds the answering thread at the model's next piece."""


def stream_answer(answer: Callable[[AnswerRequest], Answer],
                  request: AnswerRequest) -> Iterator[AnswerEvent]:
    """Yield text deltas, then one final event with the complete ``Answer`` (module doc)."""
    events: queue.Queue = queue.Queue()
    closed = threading.Event()

    def on_text(piece: str) -> None:
        if closed.is_set():
            raise _Closed
        events.put(AnswerEvent.delta(piece))

    def work() -> None:
        try:
            events.put(answer(request.model_copy(update={"on_text": on_text})))
        except BaseException as err:  # handed to the reader, raised there
            events.put(err)

    # the caller's context goes along, so its open tallies see the calls
    worker = threading.Thread(target=contextvars.copy_context().run, args=(work,),
                              name="ragloop-answer", daemon=True)
    worker.start()
    streamed = False
    try:
        while True:
            item = events.get()
            if isinstance(item, AnswerEvent):
                streamed = True
                yield item
                continue
            if isinstance(item, BaseException):
                raise item
            yield from _final(item, streamed)
            return
    finally:
        closed.set()
        worker.join()


def _final(answer: Answer, streamed: bool) -> Iterator[AnswerEvent]:
    metadata = {**answer.metadata, "streamed": streamed}
    if not streamed:
        yield AnswerEvent.delta(answer.text)
    elif answer.metadata.get("invalid_markers"):
        metadata["cleaned_text"] = True  # the reader saw the raw markers; this is cleaned
    yield AnswerEvent.final(answer.model_copy(update={"metadata": metadata}))
