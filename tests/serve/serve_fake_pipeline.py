"""A fake pipeline for server orchestration tests, named as such: it answers from a fixed
two-chunk corpus without any model. Real-pipeline tests live beside it."""

from __future__ import annotations

import threading
import time

from ragloop.records import Answer, AnswerEvent, Candidate, Chunk, Citation, LLMCall

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

    def _answer(self, question: str, strategy: str | None) -> Answer:
        text = "Tides come from the Moon's gravity [1]; the Sun adds a smaller part [2]."
        candidates = tuple(Candidate(chunk=c, score=1.0 - i / 10, scores={"bm25": 1.0})
                           for i, c in enumerate(CHUNKS))
        citations = tuple(Citation(marker=i + 1, chunk_id=c.id, doc_id=c.doc_id,
                                   source=c.metadata["source"], title=c.metadata["title"])
                          for i, c in enumerate(CHUNKS))
        calls = (LLMCall(purpose="answer", model="fake-llm", prompt_tokens=120,
                         completion_tokens=18, latency_s=self.delay_s),)
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

    def stream(self, question: str, *, mode=None, strategy=None, filters=None):
        self._enter()
        try:
            answer = self._answer(question, strategy)
            for word in answer.text.split(" "):
                time.sleep(self.delay_s / 10)
                yield AnswerEvent.delta(word + " ")
            yield AnswerEvent.final(answer)
        finally:
            self._busy.release()
