"""A fake pipeline for server orchestration tests, named as such: it answers from a fixed
two-chunk corpus without any model. Real-pipeline tests live beside it."""

from __future__ import annotations

import tempfile
import threading
import time
from functools import cached_property
from pathlib import Path

from ragloop.chat.engine import ChatStream, turn_of
from ragloop.feedback.conversations import ConversationStore
from ragloop.records import Answer, AnswerEvent, AnswerRequest, Candidate, Chunk, Citation, LLMCall

# what the fake answers a question that mentions code: a fence and inline code holding HTML
CODE_ANSWER = ("Call it like this [1]:\n```python\nprint('<b>tides</b>')\n```\n"
               "or inline `<img src=x onerror=alert(1)>` [2].")

CHUNKS = (
    Chunk(id="c-tides", doc_id="d-tides", ordinal=0,
          text="Tides are caused mainly by the Moon's gravity pulling on the oceans.",
          metadata={"source": "docs/tides.md", "title": "Tides"}),
    Chunk(id="c-sun", doc_id="d-sun", ordinal=0,
          text="The Sun also raises tides, about half as strong as the Moon's.",
          metadata={"source": "docs/sun.md", "title": "The Sun"}),
)


class FakePipeline:
    """Answers "<question> → Tides come from the Moon [1]." after ``delay_s``; checks it is
    never entered by two threads at once (the real model is not re-entrant)."""

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s
        self.calls = 0
        self._busy = threading.Lock()
        self._asked: set[str] = set()

    def _answer(self, question: str, strategy: str | None) -> Answer:
        text = "Tides come from the Moon's gravity [1]; the Sun adds a smaller part [2]."
        if "code" in question.lower():
            text = CODE_ANSWER
        cached = question in self._asked  # a repeated question reads as a cache hit
        self._asked.add(question)
        candidates = tuple(Candidate(chunk=c, score=1.0 - i / 10, scores={"bm25": 1.0})
                           for i, c in enumerate(CHUNKS))
        citations = tuple(Citation(marker=i + 1, chunk_id=c.id, doc_id=c.doc_id,
                                   source=c.metadata["source"], title=c.metadata["title"])
                          for i, c in enumerate(CHUNKS))
        calls = (LLMCall(purpose="answer", model="fake-llm", prompt_tokens=120,
                         completion_tokens=18, latency_s=self.delay_s, cached=cached),)
        return Answer(question=question, text=text, citations=citations,
                      candidates=candidates, strategy=strategy or "direct", calls=calls,
                      latency_s=self.delay_s + 0.001)

    def _enter(self) -> None:
        if not self._busy.acquire(blocking=False):
            raise AssertionError("FakePipeline entered concurrently")
        self.calls += 1

    def ask(self, question: str, *, mode=None, strategy=None, filters=None) -> Answer:
        self._enter()
        try:
            time.sleep(self.delay_s)
            return self._answer(question, strategy)
        finally:
            self._busy.release()

    def answer(self, request: AnswerRequest) -> Answer:
        """A request with instruction or history (``/v1/chat/completions``): both ignored."""
        return self.ask(request.question, strategy=request.strategy)

    def stream(self, question: str | AnswerRequest, *, mode=None, strategy=None,
               filters=None):
        if isinstance(question, AnswerRequest):
            question, strategy = question.question, question.strategy
        self._enter()
        try:
            answer = self._answer(question, strategy)
            for word in answer.text.split(" "):
                time.sleep(self.delay_s / 10)
                yield AnswerEvent.delta(word + " ")
            yield AnswerEvent.final(answer)
        finally:
            self._busy.release()

    # ---- conversations: stored for real (ConversationStore), answered by the fake

    @cached_property
    def conversations(self) -> ConversationStore:
        return ConversationStore(Path(tempfile.mkdtemp(prefix="fake-chat-")) / "chat.sqlite")

    def chat_stream(self, conversation_id, question, *, trace_id=None, mode=None,
                    strategy=None, filters=None):
        store = self.conversations
        conversation = store.get(conversation_id) if conversation_id else store.create()

        def events():
            for event in self.stream(question, strategy=strategy):
                if event.kind == "answer":
                    answer = event.answer.model_copy(update={"metadata": {
                        "chat": {"conversation_id": conversation.id,
                                 "history_turns": len(conversation.turns)}}})
                    store.append(conversation.id, turn_of(answer, trace_id))
                    event = AnswerEvent.final(answer)
                yield event

        return ChatStream(conversation.id, events())
