"""An OpenAI-compatible ``/embeddings`` endpoint."""

from __future__ import annotations

import os
from collections.abc import Sequence

import httpx
import numpy as np

from ragloop.errors import ModelError, ModelTimeoutError, ModelUnreachableError
from ragloop.models.embedder import normalize
from ragloop.redact import redact_text


class OpenAICompatEmbedder:
    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 60.0, batch_size: int = 64, max_tokens: int = 512,
                 query_prefix: str = "", passage_prefix: str = ""):
        headers = {}
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.base_url = base_url.rstrip("/")
        self.shown_url = redact_text(self.base_url)  # in messages: no password of the URL
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)
        self.model = model
        self.batch_size = batch_size
        self._max_tokens = max_tokens
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self._dim: int | None = None

    @property
    def model_id(self) -> str:
        return self.model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        return [self.count_tokens(t) for t in texts]

    def _request(self, texts: list[str]) -> np.ndarray:
        try:
            response = self._http.post("/embeddings", json={"model": self.model, "input": texts})
        except httpx.TimeoutException as err:
            raise ModelTimeoutError(f"{self.shown_url}/embeddings timed out") from err
        except httpx.TransportError as err:
            raise ModelUnreachableError(f"{self.shown_url}: cannot connect ({err})") from err
        if response.status_code >= 400:
            raise ModelError(f"{self.shown_url}/embeddings: HTTP {response.status_code}: "
                             f"{response.text[:300]}")
        rows = sorted(response.json()["data"], key=lambda r: r["index"])
        return normalize(np.array([r["embedding"] for r in rows], dtype=np.float32))

    def _embed(self, texts: list[str]) -> np.ndarray:
        parts = [self._request(texts[i:i + self.batch_size])
                 for i in range(0, len(texts), self.batch_size)]
        return np.vstack(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self.query_prefix + t for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self.passage_prefix + t for t in texts])
