"""Any OpenAI-compatible chat server: vLLM, Ollama, llama.cpp server, OpenAI.

Timeouts and connection failures are retried with exponential backoff; 4xx answers are not
(they will not get better), except 429 which is.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import httpx

from ragloop.errors import ModelError, ModelTimeoutError, ModelUnreachableError
from ragloop.models.llm import GenerationParams
from ragloop.records import Completion, Message

RETRYABLE_STATUS = {429, 500, 502, 503, 504}


class OpenAICompatBackend:
    backend_name = "openai"

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 120.0, max_retries: int = 3, context_window: int = 8192,
                 backoff_s: float = 0.5, json_mode: str = "auto"):
        self.base_url = base_url.rstrip("/")
        self.model = model or "default"
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._context_window = context_window
        # "json_schema" is OpenAI's and vLLM's form; llama.cpp's server and some others only
        # take {"type": "json_object", "schema": ...}. "auto" starts with the first and
        # switches for good when the server rejects it. Output is validated either way.
        self.json_mode = json_mode
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

    def _post(self, path: str, body: dict) -> httpx.Response:
        last_error: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = self._http.post(path, json=body)
            except httpx.TimeoutException as err:
                last_error = ModelTimeoutError(
                    f"{self.base_url}{path}: no answer within the timeout "
                    f"({attempt + 1} attempt(s))")
                last_error.__cause__ = err
                continue
            except httpx.TransportError as err:
                last_error = ModelUnreachableError(f"{self.base_url}: cannot connect ({err})")
                continue
            if response.status_code in RETRYABLE_STATUS:
                last_error = ModelError(
                    f"{self.base_url}{path}: HTTP {response.status_code}: {response.text[:300]}")
                continue
            if response.status_code >= 400:
                raise ModelError(
                    f"{self.base_url}{path}: HTTP {response.status_code}: {response.text[:300]}")
            return response
        assert last_error is not None
        raise last_error

    def generate(self, messages: list[Message], params: GenerationParams,
                 schema: dict | None) -> Completion:
        body = self._body(messages, params)
        start = time.perf_counter()
        if schema is None:
            data = self._post("/chat/completions", body).json()
        else:
            data = self._post_with_schema(body, schema)
        latency = time.perf_counter() - start
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError):
            raise ModelError(f"{self.base_url}: unexpected response: {str(data)[:300]}") from None
        usage = data.get("usage") or {}
        return Completion(text=text, prompt_tokens=usage.get("prompt_tokens", 0),
                          completion_tokens=usage.get("completion_tokens", 0),
                          latency_s=latency, model=data.get("model") or self.model,
                          finish_reason=choice.get("finish_reason"))

    def _post_with_schema(self, body: dict, schema: dict) -> dict:
        if self.json_mode in ("auto", "json_schema"):
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema, "strict": True}}
            try:
                return self._post("/chat/completions", body).json()
            except ModelError as err:
                if self.json_mode != "auto" or "response_format" not in str(err):
                    raise
                self.json_mode = "json_object"
        body["response_format"] = {"type": "json_object", "schema": schema}
        return self._post("/chat/completions", body).json()

    def stream(self, messages: list[Message], params: GenerationParams,
               schema: dict | None = None) -> Iterator[str]:
        body = self._body(messages, params) | {"stream": True}
        if schema is not None:
            body["response_format"] = (
                {"type": "json_object", "schema": schema} if self.json_mode == "json_object"
                else {"type": "json_schema",
                      "json_schema": {"name": "output", "schema": schema, "strict": True}})
        try:
            with self._http.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ModelError(f"{self.base_url}: HTTP {response.status_code}: "
                                     f"{response.text[:300]}")
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
            raise ModelTimeoutError(f"{self.base_url}: stream timed out") from err
        except httpx.TransportError as err:
            raise ModelUnreachableError(f"{self.base_url}: cannot connect ({err})") from err
