"""Eval examples on an executor's workers (``ragloop.run``): each worker opens the project
and builds its own ``Pipeline`` once (models stay loaded for every later example); the
caller stays the one writer of ``examples.jsonl``."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class EvaluateExample:
    """``evaluate_example`` as a picklable task: the project root, not the pipeline, travels
    to the worker."""

    def __init__(self, project_root: Path, use_cache: bool, scoring: Any, options: Any):
        self.project_root = str(project_root)
        self.use_cache = use_cache
        self.scoring = scoring
        self.options = options
        self._pipeline = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_pipeline": None}

    def __call__(self, example) -> dict:
        from ragloop.evals.runner import evaluate_example

        if self._pipeline is None:
            from ragloop.pipeline import Pipeline
            from ragloop.project import Project

            self._pipeline = Pipeline(Project.load(self.project_root),
                                      use_cache=self.use_cache)
        return evaluate_example(self._pipeline, example, self.scoring, self.options)
