"""Test doubles, named as such. ``FakeLLMBackend`` is for unit tests of orchestration only;
every capability also has a test on the real embedded model."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from ragloop.errors import ModelError
from ragloop.models.llm import GenerationParams, LLMClient, TokenScores
from ragloop.records import Completion, Message

Responder = Callable[[list[Message], GenerationParams, dict | None], str]


class FakeLLMBackend:
    """Answers with ``responder(messages, params, schema)``; records every call."""

    backend_name = "fake"

    def __init__(self, responder: Responder | str = "fake answer", *, model_id: str = "fake-llm",
                 context_window: int = 2048, delay_s: float = 0.0):
        self._responder = responder
        self._model_id = model_id
        self._context_window = context_window
        self.delay_s = delay_s
        self.calls: list[tuple[list[Message], GenerationParams, dict | None]] = []
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def context_window(self) -> int:
        return self._context_window

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _text(self, messages, params, schema) -> str:
        if callable(self._responder):
            return self._responder(messages, params, schema)
        return self._responder

    def generate(self, messages, params, schema) -> Completion:
        with self._lock:
            self.calls.append((messages, params, schema))
        if self.delay_s:
            time.sleep(self.delay_s)
        text = self._text(messages, params, schema)
        return Completion(text=text, prompt_tokens=sum(self.count_tokens(m.content)
                                                       for m in messages),
                          completion_tokens=self.count_tokens(text), latency_s=self.delay_s,
                          model=self.model_id, finish_reason="stop")

    def stream(self, messages, params, schema=None) -> Iterator[str]:
        text = self._text(messages, params, schema)
        for word in text.split(" "):
            yield word + " "


class FakeScoringBackend(FakeLLMBackend):
    """A fake scorer (not a model): each answer word found in the prompt scores -1, any
    other word -5, so a context that holds the answer raises its likelihood. An answer
    containing "overlong" fails as a model error would."""

    def __init__(self, responder: Responder | str = '{"verdict": "faithful", "reason": "fake"}'):
        super().__init__(responder)
        self.scored = 0

    def token_logprobs(self, messages, continuation):
        self.scored += 1
        if "overlong" in continuation:
            raise ModelError("fake: over the context window")
        prompt = " ".join(m.content for m in messages).lower()
        words = continuation.split()
        return TokenScores(logprobs=[-1.0 if w.lower().strip(".") in prompt else -5.0
                                     for w in words],
                           prompt_tokens=len(prompt.split()) + len(words))


def fake_llm(responder: Responder | str = "fake answer", **kwargs) -> LLMClient:
    return LLMClient(FakeLLMBackend(responder, **kwargs))


class FakeEmbedder:
    """Deterministic bag-of-words hashing embedder: texts sharing words are close."""

    model_id = "fake-embedder"
    dim = 64
    max_tokens = 256

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def count_tokens_batch(self, texts):
        return [self.count_tokens(t) for t in texts]

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for word in text.lower().split():
            v[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_passages(self, texts):
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim),
                                                                              np.float32)

    embed_queries = embed_passages
