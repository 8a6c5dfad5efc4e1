"""``FakePipeline``: a stand-in for ``ragloop.pipeline.Pipeline`` exposing what the eval
runner and the CLI use (retrieve, ask, llm, judge_llm, settings, project, store, close).
Word-overlap retrieval over a few fixed chunks; the answer is the top chunk's first
sentence with a [1] citation. For orchestration tests only."""

from __future__ import annotations

import json
import threading

from fakes import fake_llm
from ragloop.index.store import DocumentEntry
from ragloop.pipeline import Pipeline
from ragloop.records import Answer, Candidate, Chunk, Citation, LLMCall

CHUNKS = {
    "c1": ("d1", "Paris is the capital of France. It lies on the Seine."),
    "c2": ("d2", "Berlin is the capital of Germany. It lies on the Spree."),
    "c3": ("d3", "Madrid is the capital of Spain. It is in the centre of the country."),
    "c4": ("d4", "Rome is the capital of Italy. It lies on the Tiber."),
}


def judge_responder(messages, params, schema):
    passing, failing = schema["properties"]["verdict"]["enum"]
    prompt = messages[-1].content
    return json.dumps({"verdict": failing if "Berlin" in prompt else passing,
                       "reason": "fake judge"})


class FakeStore:
    """The few ``Store`` reads ``eval run`` makes before running (the gold-id check)."""

    def documents(self):
        for doc in sorted({doc for doc, _ in CHUNKS.values()}):
            yield DocumentEntry(doc_id=doc, source=f"{doc}.md", content_hash="", title=doc,
                                mtime=None, n_chunks=1, n_questions=0)

    def get_chunks(self, chunk_ids):
        return [Chunk(id=cid, doc_id=CHUNKS[cid][0], ordinal=0, text=CHUNKS[cid][1])
                for cid in chunk_ids if cid in CHUNKS]


class FakePipeline:
    # the real pipeline's eval entry points, over this fake's parts
    evaluate = Pipeline.evaluate
    factory = Pipeline.factory
    use_cache = True

    def __init__(self, project, *, broken_ids=(), answer_prefix: str = "",
                 context_chunks: int = 2):
        self.project = project
        self.settings = project.settings
        self.llm = fake_llm("unused")
        self.judge_llm = fake_llm(judge_responder)
        self.store = FakeStore()
        self.broken = set(broken_ids)
        self.answer_prefix = answer_prefix
        self.context_chunks = context_chunks
        self.asked: list[str] = []
        self.instructions: dict[str, str] = {}  # question → the answer instruction given
        self._lock = threading.Lock()

    def close(self):
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def retrieve(self, query, k=None, filters=None):
        words = set(query.lower().replace("?", "").split())
        scored = []
        for cid, (doc, text) in CHUNKS.items():
            overlap = len(words & set(text.lower().replace(".", "").split()))
            scored.append((overlap, cid, doc, text))
        scored.sort(key=lambda t: (-t[0], t[1]))
        return [Candidate(chunk=Chunk(id=cid, doc_id=doc, ordinal=0, text=text),
                          score=float(score)) for score, cid, doc, text in scored[: k or 10]]

    def ask(self, question, **kwargs):
        with self._lock:
            self.asked.append(question)
            self.instructions[question] = kwargs.get("instruction", "")
        if any(b in question for b in self.broken):
            raise RuntimeError("fake pipeline failure")
        context = tuple(self.retrieve(question, k=self.context_chunks))
        top = context[0].chunk
        text = f"{self.answer_prefix}{top.text.split('. ')[0]} [1]."
        return Answer(question=question, text=text, candidates=context,
                      citations=(Citation(marker=1, chunk_id=top.id, doc_id=top.doc_id,
                                          source=top.doc_id),),
                      calls=(LLMCall(purpose="answer", model="fake", prompt_tokens=50,
                                     completion_tokens=10, latency_s=0.01),))
