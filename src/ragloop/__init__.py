"""ragloop: build, measure and improve LLM applications over private documents.

    import ragloop

    with ragloop.open("my-docs") as rag:          # a project folder (made if new)
        rag.ingest(["docs/"])
        answer = rag.ask("How is the budget split between teams?")
        print(answer.text, [c.source for c in answer.citations])

``open`` returns a ``Pipeline``: ``ingest``, ``search``, ``ask``, ``stream``, ``chat`` and
``evaluate``. The names below are imported on first use, so ``import ragloop`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name → the module that defines it
_EXPORTS = {
    "open": "ragloop.api",
    "Pipeline": "ragloop.pipeline",
    "Project": "ragloop.project",
    "Settings": "ragloop.config",
    "Answer": "ragloop.records",
    "AnswerEvent": "ragloop.records",
    "AnswerRequest": "ragloop.records",
    "Budget": "ragloop.records",
    "Candidate": "ragloop.records",
    "Chunk": "ragloop.records",
    "Citation": "ragloop.records",
    "Conversation": "ragloop.records",
    "Document": "ragloop.records",
    "EvalExample": "ragloop.records",
    "Turn": "ragloop.records",
    "RagloopError": "ragloop.errors",
    "ConfigError": "ragloop.errors",
}

__all__ = [  # noqa: RUF022 - grouped as _EXPORTS
    "__version__", "open", "Pipeline", "Project", "Settings", "Answer", "AnswerEvent",
    "AnswerRequest", "Budget", "Candidate", "Chunk", "Citation", "Conversation", "Document",
    "EvalExample", "Turn", "RagloopError", "ConfigError",
]

if TYPE_CHECKING:
    from ragloop.api import open
    from ragloop.config import Settings
    from ragloop.errors import ConfigError, RagloopError
    from ragloop.pipeline import Pipeline
    from ragloop.project import Project
    from ragloop.records import (
        Answer,
        AnswerEvent,
        AnswerRequest,
        Budget,
        Candidate,
        Chunk,
        Citation,
        Conversation,
        Document,
        EvalExample,
        Turn,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ragloop' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
