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
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import jsonschema

from ragloop.errors import ModelError, SchemaValidationError
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


@dataclass(frozen=True)
class TokenScores:
    """A scoring backend's answer: each continuation token's log-probability, and how many
    tokens the model read to give them (the chat-templated prompt and the continuation),
    which is what the call is accounted at."""

    logprobs: list[float]
    prompt_tokens: int


@runtime_checkable
class LLMBackend(Protocol):
    """What a model backend implements. Raises ``ModelError`` subclasses on failure.

    A backend that can also read text rather than write it (``LLMClient.token_logprobs``)
    adds ``token_logprobs(messages, continuation) -> TokenScores`` and a ``scorer_version``
    naming how it computes, so a changed scorer does not reuse old scores."""

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


_open_tallies: ContextVar[tuple[list[LLMCall], ...]] = ContextVar("ragloop_llm_tallies",
                                                                   default=())


@contextmanager
def recorded_calls() -> Iterator[list[LLMCall]]:
    """Open a tally: every call any ``LLMClient`` makes in this context (this thread, or
    a context copied from it) is appended to the yielded list as an ``LLMCall`` — answered,
    cached or failed. Tallies nest: a call is recorded in every open one. This is how an
    answer's cost is counted, so no strategy can forget a call."""
    calls: list[LLMCall] = []
    token = _open_tallies.set((*_open_tallies.get(), calls))
    try:
        yield calls
    finally:
        _open_tallies.reset(token)


TextSink = Callable[[str], None]


class LLMClient:
    """The LLM interface of ragloop: chat messages in, a ``Completion`` out.

    ``complete`` is cached on disk (when a cache is given) by (backend, model, messages,
    params, schema); a hit returns the stored completion marked ``cached=True``. Output that
    fails its schema is cached as that failure: the same call fails the same way again
    without reaching the model, so a re-run costs no calls (``--no-cache`` retries it).

    ``on_text`` makes the same call stream: the text reaches ``on_text`` piece by piece as
    the model writes it (all at once on a cache hit), and the completion is validated,
    cached and counted exactly like a whole one. Every call is recorded in the open
    tallies (``recorded_calls``) and the client's running ``usage``.
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
                 stop: Sequence[str] = (), purpose: str = "call",
                 on_text: TextSink | None = None) -> Completion:
        """One call. ``purpose`` names it in the tally ("answer", "vote-2", ...)."""
        msgs = as_messages(messages)
        params = GenerationParams(temperature=temperature, max_tokens=max_tokens, seed=seed,
                                  stop=tuple(stop))
        key = cache_key({
            "backend": self.backend.backend_name, "model": self.backend.model_id,
            # backend settings that change the output (e.g. a repeat penalty) are part of it
            "backend_settings": getattr(self.backend, "output_settings", {}),
            "messages": [m.model_dump() for m in msgs], "params": params.__dict__,
            "schema": schema})
        started = time.perf_counter()
        try:
            completion = self._cached(key, on_text)
            if completion is None:
                completion = self._generate(msgs, params, schema, on_text)
                if schema is not None:
                    completion = self._validated(key, completion, schema)
                self._store(key, completion.model_dump(mode="json"))
            elif on_text is not None:
                on_text(completion.text)
        except SchemaValidationError as err:
            self._count(purpose, err.completion, failed=True)
            raise
        except Exception:
            self._record_failure(purpose, started)
            raise
        self._count(purpose, completion)
        return completion

    def _generate(self, msgs: list[Message], params: GenerationParams, schema: dict | None,
                  on_text: TextSink | None) -> Completion:
        if on_text is None:
            return self.backend.generate(msgs, params, schema)
        started = time.perf_counter()
        pieces: list[str] = []
        with closing(self.backend.stream(msgs, params, schema)) as stream:
            for piece in stream:
                pieces.append(piece)
                on_text(piece)
        text = "".join(pieces)
        # A stream carries no usage counts, so they are counted on the text.
        return Completion(text=text, model=self.model_id,
                          prompt_tokens=sum(self.count_tokens(m.content) for m in msgs),
                          completion_tokens=self.count_tokens(text.strip()) if text.strip()
                          else 0,
                          latency_s=time.perf_counter() - started)

    def _validated(self, key: str, completion: Completion, schema: dict) -> Completion:
        try:
            parsed = parse_json_output(completion.text, schema)
        except SchemaValidationError as err:
            self._store(key, {"schema_error": err.reason,
                              "completion": completion.model_dump(mode="json")})
            err.completion = completion
            raise
        return completion.model_copy(update={"parsed": parsed})

    def _count(self, purpose: str, completion: Completion, *, failed: bool = False) -> None:
        self.usage.add(completion)
        self._record(self.call_record(purpose, completion).model_copy(
            update={"failed": failed}))

    def _record_failure(self, purpose: str, started: float) -> None:
        """A call that raised: recorded in the tallies with no tokens."""
        self._record(LLMCall(purpose=purpose, model=self.model_id, prompt_tokens=0,
                             completion_tokens=0, latency_s=time.perf_counter() - started,
                             failed=True))

    @staticmethod
    def _record(call: LLMCall) -> None:
        for tally in _open_tallies.get():
            tally.append(call)

    def _store(self, key: str, value: dict) -> None:
        if self.cache is not None:
            self.cache.put(key, json.dumps(value).encode("utf-8"))

    def token_logprobs(self, messages: MessagesLike, continuation: str, *,
                       purpose: str = "score") -> list[float]:
        """The log-probability of each token of ``continuation`` as the model's reply to
        ``messages``: the model as a scorer rather than a writer. Cached and counted like
        ``complete`` (prompt tokens only). Backends that cannot score (an HTTP endpoint
        without prompt log-probabilities) raise ``ModelError``."""
        score = getattr(self.backend, "token_logprobs", None)
        if score is None:
            raise ModelError(f"the {self.backend.backend_name} backend cannot score text "
                             "(token log-probabilities); use a llamacpp model")
        msgs = as_messages(messages)
        key = cache_key({
            "kind": "token_logprobs", "backend": self.backend.backend_name,
            # a scorer that computes differently (rounding included) must not reuse old scores
            "scorer": getattr(self.backend, "scorer_version", ""),
            "model": self.backend.model_id, "messages": [m.model_dump() for m in msgs],
            "continuation": continuation})
        blob = self.cache.get(key) if self.cache is not None else None
        started = time.perf_counter()
        if blob is not None:
            data = json.loads(blob)
        else:
            try:
                scored = score(msgs, continuation)
            except Exception:
                self._record_failure(purpose, started)
                raise
            data = {"logprobs": scored.logprobs, "prompt_tokens": scored.prompt_tokens}
            self._store(key, data)
        self._count(purpose, Completion(
            text="", model=self.model_id, prompt_tokens=data["prompt_tokens"],
            completion_tokens=0, latency_s=time.perf_counter() - started,
            cached=blob is not None))
        return list(data["logprobs"])

    def stream(self, messages: MessagesLike, *, schema: dict | None = None,
               temperature: float = 0.0, max_tokens: int = 256, seed: int = 0,
               stop: Sequence[str] = ()) -> Iterator[str]:
        """Yield text pieces straight from the backend: no cache, no validation, no tally.
        For talking to a model by hand; answers stream through ``complete(on_text=...)``."""
        params = GenerationParams(temperature=temperature, max_tokens=max_tokens, seed=seed,
                                  stop=tuple(stop))
        start = time.perf_counter()
        yield from self.backend.stream(as_messages(messages), params, schema)
        with self.usage._lock:
            self.usage.calls += 1
            self.usage.latency_s += time.perf_counter() - start

    def _cached(self, key: str, on_text: TextSink | None = None) -> Completion | None:
        if self.cache is None:
            return None
        blob = self.cache.get(key)
        if blob is None:
            return None
        data = json.loads(blob)
        if "schema_error" in data:
            completion = Completion.model_validate(data["completion"]).model_copy(
                update={"cached": True})
            if on_text is not None:  # a streaming reader sees what a fresh call showed
                on_text(completion.text)
            raise SchemaValidationError(f"{data['schema_error']} (cached failure)",
                                        raw_text=completion.text, completion=completion)
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
