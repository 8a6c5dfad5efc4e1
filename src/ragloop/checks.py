"""Checks of a project's settings that need more than the settings themselves: names that
live in registries (strategies, backends, chunkers, retrievers ...) and the model files the
configured backends will open. ``ragloop config`` runs them, and ``ragloop serve`` refuses to start
when they fail, instead of answering every request with a 500.

(``ragloop.config`` validates what the settings alone can tell: types, ranges, unknown keys,
retriever names in weights, overlap below chunk size, finite numbers.)
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from ragloop.config import EmbedderSettings, LLMSettings, Settings
from ragloop.errors import ConfigError, ModelNotFoundError, UnknownPartError
from ragloop.redact import redact_text


def registered_names(settings: Settings) -> list[tuple[str, str, object]]:
    """(key, name, registry) for every setting that names a registered part."""
    from ragloop.answer.strategies import STRATEGIES
    from ragloop.chat.condensers import CONDENSERS
    from ragloop.executors.base import EXECUTORS
    from ragloop.index.factory import BACKENDS
    from ragloop.ingest.chunkers import CHUNKERS
    from ragloop.models.factory import EMBEDDERS, LLM_BACKENDS
    from ragloop.retrieve.base import RERANKERS, SIGNALS

    named = [("answer.strategy", settings.answer.strategy, STRATEGIES),
             ("answer.slow_strategy", settings.answer.slow_strategy, STRATEGIES),
             ("chat.condense", settings.chat.condense, CONDENSERS),
             ("index.backend", settings.index.backend, BACKENDS),
             ("ingest.chunker", settings.ingest.chunker, CHUNKERS),
             ("executor.backend", settings.executor.backend, EXECUTORS),
             ("llm.backend", settings.llm.backend, LLM_BACKENDS),
             ("embedder.backend", settings.embedder.backend, EMBEDDERS)]
    if settings.judge is not None:
        named.append(("judge.backend", settings.judge.backend, LLM_BACKENDS))
    named += [("retrieve.retrievers", name, SIGNALS) for name in settings.retrieve.retrievers]
    if settings.retrieve.rerank != "none":
        named.append(("retrieve.rerank", settings.retrieve.rerank, RERANKERS))
    return named


def _registered(settings: Settings) -> None:
    for key, name, registry in registered_names(settings):
        if name not in registry:
            raise UnknownPartError(registry.kind, name, registry.names(), key=key)


def _file(path: str, key: str, what: str, *, folder: bool = False) -> None:
    found = Path(path).expanduser()
    if not (found.is_dir() if folder else found.is_file()):
        raise ConfigError(f"[{key.replace('.', '] ', 1)}: no {what} at '{path}'", key=key)


def _llm(llm: LLMSettings, section: str) -> None:
    if llm.backend != "llamacpp":
        return
    if llm.model_path:
        _file(llm.model_path, f"{section}.model_path", "GGUF model file")
        return
    from ragloop.models.llamacpp import default_model_path

    try:
        default_model_path()
    except ModelNotFoundError as err:
        raise ConfigError(str(err), key=f"{section}.model_path") from None


def _embedder(embedder: EmbedderSettings) -> None:
    if embedder.backend == "sentence-transformers":
        _file(embedder.model_path, "embedder.model_path", "model folder", folder=True)
    elif embedder.backend == "onnx":
        if embedder.model_path:
            _file(embedder.model_path, "embedder.model_path", "ONNX model file")
        else:
            from ragloop.models.onnx_embedder import default_onnx_path

            try:
                default_onnx_path()
            except ModelNotFoundError as err:
                raise ConfigError(str(err), key="embedder.model_path") from None
        if embedder.tokenizer_path:
            _file(embedder.tokenizer_path, "embedder.tokenizer_path", "tokenizer file")


def _env_set(name: str) -> bool:
    return bool(os.environ.get(name, ""))


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _keys(settings: Settings) -> None:
    """A model server beyond loopback named with an ``api_key_env`` gets its key from it
    (``api_key_env = ""`` for one that needs none)."""
    remote = [("llm", settings.llm), ("judge", settings.judge), ("embedder", settings.embedder)]
    for section, part in remote:
        if part is None or part.backend != "openai" or _loopback(part.base_url):
            continue
        if part.api_key_env and not _env_set(part.api_key_env):
            raise ConfigError(
                f"[{section}] api_key_env names {part.api_key_env!r}, which is empty or "
                f"unset, for the server at {redact_text(part.base_url)}; set it, or set "
                f"[{section}] api_key_env = \"\" for a server that needs no key",
                key=f"{section}.api_key_env")


def check_serve_key(settings: Settings) -> None:
    """``[serve] api_key_env`` must hold the key (``ragloop serve`` refuses to start without
    it); checked by ``ragloop config``, not by commands that never serve (``ragloop mcp``)."""
    name = settings.serve.api_key_env
    if name and not _env_set(name):
        raise ConfigError(f"[serve] api_key_env names {name!r}, but that environment "
                          "variable is empty or unset", key="serve.api_key_env")


def check_settings(settings: Settings, *, path: Path | None = None) -> None:
    """Raise ``ConfigError`` naming the key (and ``path``, the config file) when the
    settings cannot answer a question."""
    try:
        _registered(settings)
        _keys(settings)
        _llm(settings.llm, "llm")
        if settings.judge is not None:
            _llm(settings.judge, "judge")
        _embedder(settings.embedder)
        if settings.retrieve.rerank == "cross-encoder":
            _file(settings.retrieve.cross_encoder_path, "retrieve.cross_encoder_path",
                  "cross-encoder model folder", folder=True)
    except ConfigError as err:
        if path is None or err.path is not None:
            raise
        raise ConfigError(str(err), path=path, key=err.key) from None
