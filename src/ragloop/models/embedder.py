"""The embedder interface and a content-hash cache of passage vectors.

Vectors are float32 and L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ragloop.models.cache import DiskCache, cache_key


@runtime_checkable
class Embedder(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """The model's input limit in its own tokens; chunkers keep below it."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]: ...


def normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class CachedEmbedder:
    """Wraps an embedder; passage vectors are stored by (model, text) hash so re-ingesting
    unchanged text costs nothing. Query vectors are not cached (queries rarely repeat)."""

    def __init__(self, inner: Embedder, cache: DiskCache):
        self.inner = inner
        self.cache = cache

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens_batch(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def close(self) -> None:
        self.cache.close()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        keys = [cache_key([self.model_id, text]) for text in texts]
        found = self.cache.get_many(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if missing:
            fresh = self.inner.embed_passages([texts[i] for i in missing])
            self.cache.put_many({keys[i]: fresh[j].tobytes() for j, i in enumerate(missing)})
            for j, i in enumerate(missing):
                out[i] = fresh[j]
        for i, key in enumerate(keys):
            if key in found:
                out[i] = np.frombuffer(found[key], dtype=np.float32)
        return out
