"""A local sentence-transformers model folder (needs the optional `sentence-transformers`
package, which brings torch). Never downloads: the path must exist."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragloop.errors import ModelError, ModelNotFoundError
from ragloop.models.embedder import normalize


class SentenceTransformerEmbedder:
    def __init__(self, model_path: str | Path, *, batch_size: int = 32, max_tokens: int = 256,
                 query_prefix: str = "", passage_prefix: str = ""):
        path = Path(model_path)
        if not path.is_dir():
            raise ModelNotFoundError(f"sentence-transformers model folder not found: {path}")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise ModelError("[embedder] backend 'sentence-transformers' needs "
                             "`pip install sentence-transformers`") from err
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.model.max_seq_length = min(max_tokens, self.model.max_seq_length or max_tokens)
        self.path = path
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix

    @property
    def model_id(self) -> str:
        return self.path.name

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer.tokenize(text))

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        return [self.count_tokens(t) for t in texts]

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=self.batch_size,
                                    convert_to_numpy=True, show_progress_bar=False)
        return normalize(vectors)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts])
