"""The one LLM interface every caller uses, and the client that wraps any backend with
caching, schema validation and usage accounting.

A *backend* (``LLMBackend``) only knows how to talk to one kind of model. ``LLMClient`` is
what the rest of ragloop holds: it adds the disk cache, JSON-schema validation and the
running token/latency totals, so those live in one place whatever the backend.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import jsonschema

from ragloop.errors import SchemaValidationError
from ragloop.models.cache import DiskCache, cache_key
from ragloop.records import Completion, LLMCall, Message

MessagesLike = Sequence[Message] | Sequence[dict[str, str]]


def as_messages(messages: MessagesLike) -> list[Message]:
    return [m if isinstance(m, Message) else Message(**m) for m in messages]


@dataclass(frozen=True)
class GenerationParams:
    temperature: float = 0.0
    max_tokens: int = 256
    seed: int = 0
    stop: tuple[str, ...] = ()


@runtime_checkable
class LLMBackend(Protocol):
    """What a model backend implements. Raises ``ModelError`` subclasses on failure."""

    @property
    def model_id(self) -> str: ...

    @property
    def backend_name(self) -> str: ...

    @property
    def context_window(self) -> int: ...

    def generate(self, messages: list[Message], params: GenerationParams,
                 schema: dict | None) -> Completion: ...

    def stream(self, messages: list[Message], params: GenerationParams,
               schema: dict | None = None) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...


@dataclass
class Usage:
    """Running totals of what an ``LLMClient`` has spent."""

    calls: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, completion: Completion) -> None:
        with self._lock:
            self.calls += 1
            if completion.cached:
                self.cache_hits += 1
                return
            self.cache_misses += 1
            self.prompt_tokens += completion.prompt_tokens
            self.completion_tokens += completion.completion_tokens
            self.latency_s += completion.latency_s

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in (
            "calls", "cache_hits", "cache_misses", "prompt_tokens", "completion_tokens",
            "latency_s")}


def parse_json_output(text: str, schema: dict) -> Any:
    """Parse and validate model output against ``schema``.

    Small models often wrap JSON in prose or code fences; the first balanced JSON value in
    the text is taken. Raises ``SchemaValidationError`` with the raw text otherwise.
    """
    candidate = _first_json_value(text)
    if candidate is None:
        raise SchemaValidationError("output is not JSON", raw_text=text)
    try:
        jsonschema.validate(candidate, schema)
    except jsonschema.ValidationError as err:
        raise SchemaValidationError(f"output does not match the schema: {err.message}",
                                    raw_text=text) from None
    return candidate


def _first_json_value(text: str) -> Any:
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                value, _ = decoder.raw_decode(text[i:])
                return value
            except json.JSONDecodeError:
                continue
    return None


class LLMClient:
    """The LLM interface of ragloop: chat messages in, a ``Completion`` out.

    ``complete`` is cached on disk (when a cache is given) by (backend, model, messages,
    params, schema); a hit returns the stored completion marked ``cached=True``. Output that
    fails its schema is cached as that failure: the same call fails the same way again
    without reaching the model, so a re-run costs no calls (``--no-cache`` retries it).
    """

    def __init__(self, backend: LLMBackend, cache: DiskCache | None = None):
        self.backend = backend
        self.cache = cache
        self.usage = Usage()

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    @property
    def context_window(self) -> int:
        return self.backend.context_window

    def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)

    def complete(self, messages: MessagesLike, *, schema: dict | None = None,
                 temperature: float = 0.0, max_tokens: int = 256, seed: int = 0,
                 stop: Sequence[str] = ()) -> Completion:
        msgs = as_messages(messages)
        params = GenerationParams(temperature=temperature, max_tokens=max_tokens, seed=seed,
                                  stop=tuple(stop))
        key = cache_key({
            "backend": self.backend.backend_name, "model": self.backend.model_id,
            # backend settings that change the output (e.g. a repeat penalty) are part of it
            "backend_settings": getattr(self.backend, "output_settings", {}),
            "messages": [m.model_dump() for m in msgs], "params": params.__dict__,
            "schema": schema})
        completion = self._cached(key)
        if completion is None:
            completion = self.backend.generate(msgs, params, schema)
            if schema is not None:
                try:
                    parsed = parse_json_output(completion.text, schema)
                except SchemaValidationError as err:
                    self.usage.add(completion)
                    self._store(key, {"schema_error": err.reason,
                                      "completion": completion.model_dump(mode="json")})
                    raise
                completion = completion.model_copy(update={"parsed": parsed})
            self._store(key, completion.model_dump(mode="json"))
        self.usage.add(completion)
        return completion

    def _store(self, key: str, value: dict) -> None:
        if self.cache is not None:
            self.cache.put(key, json.dumps(value).encode("utf-8"))

    def stream(self, messages: MessagesLike, *, schema: dict | None = None,
               temperature: float = 0.0, max_tokens: int = 256, seed: int = 0,
               stop: Sequence[str] = ()) -> Iterator[str]:
        """Yield text pieces as the model writes them; with ``schema`` the output is
        constrained like ``complete``'s (the caller validates the joined text). Not cached:
        streaming is for people."""
        params = GenerationParams(temperature=temperature, max_tokens=max_tokens, seed=seed,
                                  stop=tuple(stop))
        start = time.perf_counter()
        yield from self.backend.stream(as_messages(messages), params, schema)
        with self.usage._lock:
            self.usage.calls += 1
            self.usage.latency_s += time.perf_counter() - start

    def _cached(self, key: str) -> Completion | None:
        if self.cache is None:
            return None
        blob = self.cache.get(key)
        if blob is None:
            return None
        data = json.loads(blob)
        if "schema_error" in data:
            completion = Completion.model_validate(data["completion"]).model_copy(
                update={"cached": True})
            self.usage.add(completion)
            raise SchemaValidationError(f"{data['schema_error']} (cached failure)",
                                        raw_text=completion.text)
        return Completion.model_validate(data).model_copy(update={"cached": True})

    def close(self) -> None:
        """Release the disk cache (the backend's model is shared and stays loaded)."""
        if self.cache is not None:
            self.cache.close()

    @staticmethod
    def call_record(purpose: str, completion: Completion) -> LLMCall:
        return LLMCall(purpose=purpose, model=completion.model,
                       prompt_tokens=completion.prompt_tokens,
                       completion_tokens=completion.completion_tokens,
                       latency_s=completion.latency_s, cached=completion.cached)
