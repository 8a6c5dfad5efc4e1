"""A pipeline for security probes of the real server and store: the real embedded store and
the real MiniLM embedder (uploads are really indexed), no LLM; questions are answered by the
fake pipeline of the server tests (named as such) when a probe asks one."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from serve_fake_pipeline import FakePipeline

from ragloop.config import Settings
from ragloop.index.embedded import open_store


@dataclass
class StorePipeline:
    settings: Settings
    root: Path
    embedder: object
    llm: None = None
    answers: FakePipeline = field(default_factory=FakePipeline)

    @cached_property
    def store(self):
        return open_store(self.root / "index")

    def ask(self, question, **kwargs):
        return self.answers.ask(question, **kwargs)

    def stream(self, question, **kwargs):
        return self.answers.stream(question, **kwargs)


def stored_ids(store) -> dict[str, str]:
    """doc id → source of every stored document."""
    return {entry.doc_id: entry.source for entry in store.documents()}
