"""Eval examples on an executor's workers (``ragloop.executors``): each worker builds its own
pipeline once (models stay loaded for every later example); the caller stays the one writer
of ``examples.jsonl``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class WorkerRecord:
    """An example's record and what it cost the worker's answer LLM (the worker's usage
    never reaches the caller's client, so the run's totals add these)."""

    record: Any
    usage: dict[str, float]


class ProjectPipeline:
    """Builds the project's ``Pipeline`` in a worker: the project root, not the pipeline,
    travels there."""

    def __init__(self, project_root: Path, use_cache: bool = True):
        self.project_root = str(project_root)
        self.use_cache = use_cache

    def __call__(self):
        from ragloop.pipeline import Pipeline
        from ragloop.project import Project

        return Pipeline(Project.load(self.project_root), use_cache=self.use_cache)


class EvaluateExample:
    """``evaluate_example`` as a picklable task; ``make_pipeline`` runs once per worker."""

    def __init__(self, make_pipeline: Callable[[], Any], scoring: Any, options: Any):
        self.make_pipeline = make_pipeline
        self.scoring = scoring
        self.options = options
        self._pipeline = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_pipeline": None}

    def __call__(self, example) -> WorkerRecord:
        from ragloop.evals.runner import evaluate_example

        if self._pipeline is None:
            self._pipeline = self.make_pipeline()
        usage = self._pipeline.llm.usage
        before = usage.as_dict()
        record = evaluate_example(self._pipeline, example, self.scoring, self.options)
        return WorkerRecord(record, {k: v - before[k] for k, v in usage.as_dict().items()})
