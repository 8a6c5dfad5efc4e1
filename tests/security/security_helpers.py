"""A pipeline for security probes of the real server and store: the real ``Pipeline`` with
the real embedded store and MiniLM embedder (uploads are really ingested), whose questions
are answered by the fake pipeline of the server tests (named as such: no LLM is loaded)."""

from __future__ import annotations

from pathlib import Path

from serve_fake_pipeline import FakePipeline

from ragloop.config import Settings
from ragloop.pipeline import Pipeline
from ragloop.project import Project


class RealStoreFakeAnswersPipeline(Pipeline):
    def __init__(self, settings: Settings, root: Path, embedder):
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(Project(root=root, settings=settings), embedder=embedder)
        self.answers = FakePipeline()

    def ask(self, question, **kwargs):
        return self.answers.ask(question, **kwargs)

    def stream(self, question, **kwargs):
        return self.answers.stream(question, **kwargs)


def stored_ids(store) -> dict[str, str]:
    """doc id → source of every stored document."""
    return {entry.doc_id: entry.source for entry in store.documents()}
