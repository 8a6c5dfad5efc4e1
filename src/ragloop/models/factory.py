"""Build the configured LLM client and embedder. Backends are chosen here and nowhere else."""

from __future__ import annotations

from pathlib import Path

from ragloop.config import EmbedderSettings, LLMSettings
from ragloop.models.cache import DiskCache
from ragloop.models.embedder import CachedEmbedder, Embedder
from ragloop.models.llm import LLMBackend, LLMClient


def build_llm_backend(settings: LLMSettings, models_dir: Path | None = None) -> LLMBackend:
    """``models_dir``: the project's registered models (``[llm] model = "NAME"`` selects one
    for the llama.cpp backend when ``model_path`` is empty)."""
    if settings.backend == "openai":
        from ragloop.models.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(settings.base_url, settings.model,
                                   api_key_env=settings.api_key_env,
                                   timeout_s=settings.timeout_s,
                                   max_retries=settings.max_retries,
                                   context_window=settings.n_ctx,
                                   json_mode=settings.json_mode)
    from ragloop.models.llamacpp import LlamaCppBackend

    if settings.model and not settings.model_path:
        from ragloop.models.registry import resolve_model

        registered = resolve_model(models_dir, settings.model)
        return LlamaCppBackend(registered.path, n_ctx=settings.n_ctx,
                               n_threads=settings.n_threads,
                               repeat_penalty=settings.repeat_penalty,
                               lora_path=registered.lora_path, model_id=registered.model_id)
    return LlamaCppBackend(settings.model_path, n_ctx=settings.n_ctx,
                           n_threads=settings.n_threads,
                           repeat_penalty=settings.repeat_penalty)


def build_llm(settings: LLMSettings, cache_dir: Path | None, *,
              use_cache: bool = True, models_dir: Path | None = None) -> LLMClient:
    cache = None
    if cache_dir is not None and settings.cache and use_cache:
        cache = DiskCache(Path(cache_dir) / "llm.sqlite", table="completions")
    return LLMClient(build_llm_backend(settings, models_dir), cache)


def build_embedder(settings: EmbedderSettings, cache_dir: Path | None, *,
                   n_threads: int = 0) -> Embedder:
    """``n_threads`` (ONNX): 0 uses every core; a pool worker asks for one."""
    inner: Embedder
    if settings.backend == "sentence-transformers":
        from ragloop.models.st_embedder import SentenceTransformerEmbedder

        inner = SentenceTransformerEmbedder(settings.model_path, batch_size=settings.batch_size,
                                            max_tokens=settings.max_tokens,
                                            query_prefix=settings.query_prefix,
                                            passage_prefix=settings.passage_prefix)
    elif settings.backend == "openai":
        from ragloop.models.openai_embedder import OpenAICompatEmbedder

        inner = OpenAICompatEmbedder(settings.base_url, settings.model_path,
                                     api_key_env=settings.api_key_env,
                                     timeout_s=settings.timeout_s,
                                     batch_size=settings.batch_size,
                                     max_tokens=settings.max_tokens,
                                     query_prefix=settings.query_prefix,
                                     passage_prefix=settings.passage_prefix)
    else:
        from ragloop.models.onnx_embedder import OnnxEmbedder

        inner = OnnxEmbedder(settings.model_path, settings.tokenizer_path,
                             max_tokens=settings.max_tokens, batch_size=settings.batch_size,
                             query_prefix=settings.query_prefix,
                             passage_prefix=settings.passage_prefix,
                             n_threads=n_threads)
    if cache_dir is not None and settings.cache:
        return CachedEmbedder(inner, DiskCache(Path(cache_dir) / "embeddings.sqlite",
                                               table="vectors"))
    return inner
