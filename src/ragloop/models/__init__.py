"""Model backends behind two narrow interfaces: ``LLMClient`` and ``Embedder``."""

from ragloop.models.embedder import Embedder
from ragloop.models.llm import GenerationParams, LLMBackend, LLMClient

__all__ = ["Embedder", "GenerationParams", "LLMBackend", "LLMClient"]
