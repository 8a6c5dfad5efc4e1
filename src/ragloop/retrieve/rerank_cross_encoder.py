"""Cross-encoder reranker from a local sentence-transformers folder (optional dependency,
brings torch). Never downloads: the folder must exist."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ragloop.errors import ModelError, ModelNotFoundError
from ragloop.retrieve.base import RERANKERS


class CrossEncoderReranker:
    name = "cross-encoder"

    def __init__(self, model_path: str | Path, *, batch_size: int = 16, max_length: int = 512):
        path = Path(model_path)
        if not str(model_path) or not path.is_dir():
            raise ModelNotFoundError(f"[retrieve] cross_encoder_path: no model folder at "
                                     f"'{model_path}'")
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as err:
            raise ModelError("[retrieve] rerank = 'cross-encoder' needs "
                             "`pip install sentence-transformers`") from err
        self.model = CrossEncoder(str(path), device="cpu", max_length=max_length,
                                  local_files_only=True)
        self.batch_size = batch_size

    def score(self, query: str, passages: Sequence[str]) -> list[float | None]:
        if not passages:
            return []
        scores = self.model.predict([(query, p) for p in passages], batch_size=self.batch_size)
        return [float(s) for s in scores]


@RERANKERS.register("cross-encoder")
def build_cross_encoder(settings, llm) -> CrossEncoderReranker:
    return CrossEncoderReranker(settings.cross_encoder_path)
