"""Build the configured LLM client and embedder. Backends are registered here, by the
function that builds each — ``@LLM_BACKENDS.register("name")`` on
``build(settings: LLMSettings, models_dir) -> LLMBackend`` and ``@EMBEDDERS.register("name")``
on ``build(settings: EmbedderSettings, n_threads) -> Embedder`` — and chosen nowhere else.
Outside packages add theirs through the ``ragloop.llm_backends`` / ``ragloop.embedders``
entry points."""

from __future__ import annotations

from pathlib import Path

from ragloop.config import EmbedderSettings, LLMSettings
from ragloop.models.cache import DiskCache
from ragloop.models.embedder import CachedEmbedder, Embedder
from ragloop.models.llm import LLMBackend, LLMClient
from ragloop.registry import Registry

LLM_BACKENDS: Registry = Registry("LLM backend", key="llm.backend", group="ragloop.llm_backends")
EMBEDDERS: Registry = Registry("embedder backend", key="embedder.backend",
                               group="ragloop.embedders")


@LLM_BACKENDS.register("openai")
def build_openai(settings: LLMSettings, models_dir: Path | None) -> LLMBackend:
    from ragloop.models.openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(settings.base_url, settings.model,
                               api_key_env=settings.api_key_env,
                               timeout_s=settings.timeout_s,
                               max_retries=settings.max_retries,
                               context_window=settings.n_ctx,
                               json_mode=settings.json_mode)


@LLM_BACKENDS.register("llamacpp")
def build_llamacpp(settings: LLMSettings, models_dir: Path | None) -> LLMBackend:
    """``models_dir``: the project's registered models (``[llm] model = "NAME"`` selects one
    when ``model_path`` is empty)."""
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


def build_llm_backend(settings: LLMSettings, models_dir: Path | None = None) -> LLMBackend:
    return LLM_BACKENDS.get(settings.backend)(settings, models_dir)


def build_llm(settings: LLMSettings, cache_dir: Path | None, *,
              use_cache: bool = True, models_dir: Path | None = None) -> LLMClient:
    cache = None
    if cache_dir is not None and settings.cache and use_cache:
        cache = DiskCache(Path(cache_dir) / "llm.sqlite", table="completions")
    return LLMClient(build_llm_backend(settings, models_dir), cache)


@EMBEDDERS.register("sentence-transformers")
def build_sentence_transformers(settings: EmbedderSettings, n_threads: int) -> Embedder:
    from ragloop.models.st_embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings.model_path, batch_size=settings.batch_size,
                                       max_tokens=settings.max_tokens,
                                       query_prefix=settings.query_prefix,
                                       passage_prefix=settings.passage_prefix)


@EMBEDDERS.register("openai")
def build_openai_embedder(settings: EmbedderSettings, n_threads: int) -> Embedder:
    from ragloop.models.openai_embedder import OpenAICompatEmbedder

    return OpenAICompatEmbedder(settings.base_url, settings.model_path,
                                api_key_env=settings.api_key_env,
                                timeout_s=settings.timeout_s,
                                batch_size=settings.batch_size,
                                max_tokens=settings.max_tokens,
                                query_prefix=settings.query_prefix,
                                passage_prefix=settings.passage_prefix)


@EMBEDDERS.register("onnx")
def build_onnx(settings: EmbedderSettings, n_threads: int) -> Embedder:
    from ragloop.models.onnx_embedder import OnnxEmbedder

    return OnnxEmbedder(settings.model_path, settings.tokenizer_path,
                        max_tokens=settings.max_tokens, batch_size=settings.batch_size,
                        query_prefix=settings.query_prefix,
                        passage_prefix=settings.passage_prefix, n_threads=n_threads)


def build_embedder(settings: EmbedderSettings, cache_dir: Path | None, *,
                   n_threads: int = 0) -> Embedder:
    """``n_threads`` (ONNX): 0 uses every core; a pool worker asks for one."""
    inner = EMBEDDERS.get(settings.backend)(settings, n_threads)
    if cache_dir is not None and settings.cache:
        return CachedEmbedder(inner, DiskCache(Path(cache_dir) / "embeddings.sqlite",
                                               table="vectors"))
    return inner
