"""Any OpenAI-compatible chat server: vLLM, Ollama, llama.cpp server, OpenAI.

Timeouts and connection failures are retried with exponential backoff; 4xx answers are not
(they will not get better), except 429 which is.

Servers differ in how they take a JSON schema: OpenAI and vLLM take
``{"type": "json_schema", "json_schema": {...}}``; llama-cpp-python's server only
``{"type": "json_object", "schema": ...}`` and answers the other with HTTP 500. With
``json_mode = "auto"`` the first call that carries a schema, whichever path it takes
(``generate`` or ``stream``), finds out which form the server accepts — a rejected form costs
one request, not a round of retries — and every later call uses that form.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx

from ragloop.errors import ModelError, ModelTimeoutError, ModelUnreachableError
from ragloop.models.llm import GenerationParams
from ragloop.records import Completion, Message
from ragloop.redact import redact_text

RETRYABLE_STATUS = {429, 500, 502, 503, 504}
JSON_MODES = ("json_schema", "json_object")  # the order "auto" tries them in

T = TypeVar("T")


class _FormatRejected(ModelError):
    """The server refused the request's ``response_format``; another form may pass."""


def response_format(mode: str, schema: dict) -> dict:
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": True}}


def _rejects_format(response: httpx.Response) -> bool:
    """An error answer about the response format itself (llama-cpp-python's server sends its
    validation error as a 500), as opposed to an overloaded or failing server."""
    if response.status_code < 400 or response.status_code == 429:
        return False
    text = response.text.lower()
    return "response_format" in text or "json_schema" in text


class OpenAICompatBackend:
    backend_name = "openai"

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 120.0, max_retries: int = 3, context_window: int = 8192,
                 backoff_s: float = 0.5, json_mode: str = "auto"):
        if json_mode not in ("auto", *JSON_MODES):
            raise ValueError(f"json_mode must be auto, json_schema or json_object, "
                             f"not {json_mode!r}")
        self.base_url = base_url.rstrip("/")
        self.shown_url = redact_text(self.base_url)  # in messages: no password of the URL
        self.model = model or "default"
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._context_window = context_window
        self.json_mode = json_mode
        # "auto": the form this server accepted, once a schema call has found it out
        self._accepted_mode: str | None = None
        self._mode_lock = threading.Lock()
        headers = {}
        api_key = os.environ.get(api_key_env, "") if api_key_env else ""
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(base_url=self.base_url, headers=headers,
                                  timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10)))

    @property
    def model_id(self) -> str:
        return self.model

    @property
    def output_settings(self) -> dict:
        """The same model name on two servers may be two models."""
        return {"base_url": self.base_url}

    @property
    def context_window(self) -> int:
        return self._context_window

    @property
    def schema_mode(self) -> str | None:
        """How schemas are sent: the configured form, the one "auto" found, or None while
        "auto" has not yet sent a schema."""
        return self.json_mode if self.json_mode != "auto" else self._accepted_mode

    def count_tokens(self, text: str) -> int:
        # No tokenizer endpoint is standard; ~4 characters a token is the usual estimate.
        return max(1, len(text) // 4)

    def _body(self, messages: list[Message], params: GenerationParams) -> dict:
        body = {"model": self.model, "messages": [m.model_dump() for m in messages],
                "temperature": params.temperature, "max_tokens": params.max_tokens,
                "seed": params.seed}
        if params.stop:
            body["stop"] = list(params.stop)
        return body

    def _error(self, path: str, response: httpx.Response, body: dict) -> ModelError:
        message = f"{self.shown_url}{path}: HTTP {response.status_code}: {response.text[:300]}"
        if "response_format" in body and _rejects_format(response):
            return _FormatRejected(message)
        return ModelError(message)

    def _post(self, path: str, body: dict) -> httpx.Response:
        last_error: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = self._http.post(path, json=body)
            except httpx.TimeoutException as err:
                last_error = ModelTimeoutError(
                    f"{self.shown_url}{path}: no answer within the timeout "
                    f"({attempt + 1} attempt(s))")
                last_error.__cause__ = err
                continue
            except httpx.TransportError as err:
                last_error = ModelUnreachableError(f"{self.shown_url}: cannot connect ({err})")
                continue
            if response.status_code < 400:
                return response
            error = self._error(path, response, body)
            if response.status_code in RETRYABLE_STATUS and not isinstance(error,
                                                                           _FormatRejected):
                last_error = error
                continue
            raise error
        assert last_error is not None
        raise last_error

    def _with_schema(self, body: dict, schema: dict | None, send: Callable[[dict], T]) -> T:
        """``send(body)`` with the schema in the form the server accepts (see module doc)."""
        if schema is None:
            return send(body)
        modes = [self.schema_mode] if self.schema_mode else list(JSON_MODES)
        rejections = []
        for mode in modes:
            body["response_format"] = response_format(mode, schema)
            try:
                result = send(body)
            except _FormatRejected as err:
                rejections.append(f"{mode}: {err}")
                continue
            if self.json_mode == "auto":
                with self._mode_lock:
                    self._accepted_mode = mode
            return result
        hint = ("" if self.json_mode == "auto" else
                ' (set [llm] json_mode = "auto" to find the form the server takes)')
        raise ModelError(f"{self.shown_url}: the server rejects the JSON schema "
                         f"response_format{hint}; " + " | ".join(rejections))

    def generate(self, messages: list[Message], params: GenerationParams,
                 schema: dict | None) -> Completion:
        start = time.perf_counter()
        data = self._with_schema(self._body(messages, params), schema,
                                 lambda body: self._post("/chat/completions", body).json())
        latency = time.perf_counter() - start
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError):
            raise ModelError(f"{self.shown_url}: unexpected response: {str(data)[:300]}") from None
        usage = data.get("usage") or {}
        return Completion(text=text, prompt_tokens=usage.get("prompt_tokens", 0),
                          completion_tokens=usage.get("completion_tokens", 0),
                          latency_s=latency, model=data.get("model") or self.model,
                          finish_reason=choice.get("finish_reason"))

    def _open_stream(self, body: dict) -> httpx.Response:
        """Send a streaming request; the open response once the server accepted it."""
        request = self._http.build_request("POST", "/chat/completions", json=body)
        try:
            response = self._http.send(request, stream=True)
        except httpx.TimeoutException as err:
            raise ModelTimeoutError(f"{self.shown_url}: stream timed out") from err
        except httpx.TransportError as err:
            raise ModelUnreachableError(f"{self.shown_url}: cannot connect ({err})") from err
        if response.status_code >= 400:
            try:
                response.read()
            finally:
                response.close()
            raise self._error("/chat/completions", response, body)
        return response

    def stream(self, messages: list[Message], params: GenerationParams,
               schema: dict | None = None) -> Iterator[str]:
        body = self._body(messages, params) | {"stream": True}
        response = self._with_schema(body, schema, self._open_stream)
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                delta = json.loads(payload)["choices"][0].get("delta", {})
                if delta.get("content"):
                    yield delta["content"]
        except httpx.TimeoutException as err:
            raise ModelTimeoutError(f"{self.shown_url}: stream timed out") from err
        except httpx.TransportError as err:
            raise ModelUnreachableError(f"{self.shown_url}: cannot connect ({err})") from err
        finally:
            response.close()
