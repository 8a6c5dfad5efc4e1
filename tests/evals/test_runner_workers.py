"""`ragloop eval run` on an executor's worker processes (issue 14, item 3): every example is
evaluated in a worker with its own pipeline (a fake, named as such, built once per worker),
on a local process pool and on Ray actors; the records equal those of the in-process run,
this process stays the one writer, and the workers' LLM calls count in the run's usage."""

from __future__ import annotations

import os
import sys
from dataclasses import replace

import pytest
from eval_fake_pipeline import FakePipeline

from ragloop.evals import runs
from ragloop.evals.datasets import write_dataset
from ragloop.evals.runner import RunOptions, run_eval
from ragloop.executors.local import LocalPoolExecutor
from ragloop.project import Project
from ragloop.records import EvalExample

EXAMPLES = [EvalExample(id=f"q{i}", question=q, gold_doc_ids=(d,)) for i, (q, d) in enumerate([
    ("What is the capital of France?", "d1"), ("What is the capital of Germany?", "d2"),
    ("Which city lies on the Tiber?", "d4"), ("Is Madrid the capital of Spain?", "d3")])]


class PaidFakePipeline(FakePipeline):
    """The fake pipeline, spending one call of its (fake) answer LLM on every question."""

    def ask(self, question, **kwargs):
        self.llm.complete([{"role": "user", "content": question}], max_tokens=8)
        return super().ask(question, **kwargs)


class FakePipelineInWorker:
    """Builds the fake pipeline in the worker and notes the worker's pid in its answers."""

    def __init__(self, root):
        self.root = str(root)

    def __call__(self):
        pipeline = PaidFakePipeline(Project.load(self.root))
        pipeline.answer_prefix = f"[pid {os.getpid()}] "
        return pipeline


def _scores(run_dir):
    return {r.id: r.scores for r in runs.read_records(run_dir)}


def _in_process_and_on(executor, project, tmp_path):
    """The same dataset run in this process and on ``executor``'s workers."""
    dataset = tmp_path / "gold.jsonl"
    write_dataset(dataset, EXAMPLES)
    options = replace(RunOptions(), report=False)
    here = run_eval(FakePipeline(project), dataset, options=options)
    there = run_eval(FakePipeline(project), dataset, options=options, executor=executor,
                     worker_pipeline=FakePipelineInWorker(project.root))
    return here, there


def test_eval_examples_run_on_worker_processes_with_the_same_records(project, tmp_path):
    with LocalPoolExecutor(2) as pool:
        here, there = _in_process_and_on(pool, project, tmp_path)
    assert _scores(there.run_dir) == _scores(here.run_dir)
    answers = [r.answer for r in runs.read_records(there.run_dir)]
    assert len(answers) == 4 and all(a.startswith("[pid ") for a in answers)
    pids = {int(a[len("[pid "):a.index("]")]) for a in answers}
    assert os.getpid() not in pids  # every example ran in a worker process
    assert there.aggregates["n_examples"] == 4 and there.aggregates["n_errors"] == 0
    # the workers' LLM calls count in the run's usage (the caller's own client made none)
    usage = runs.load_run(there.run_dir).manifest.usage
    assert usage["calls"] == 4 and usage["prompt_tokens"] > 0


def test_eval_examples_run_on_ray_actors(project, tmp_path):
    ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
    import eval_fake_pipeline

    import fakes
    from ragloop.executors.ray_executor import RayExecutor

    # Ray's workers do not have tests/ on their path: ship these modules' code by value
    for module in (sys.modules[__name__], eval_fake_pipeline, fakes):
        ray.cloudpickle.register_pickle_by_value(module)
    with RayExecutor(2) as executor:
        here, there = _in_process_and_on(executor, project, tmp_path)
        pids = set(executor.pids())
    assert _scores(there.run_dir) == _scores(here.run_dir)
    answered_by = {int(r.answer[len("[pid "):r.answer.index("]")])
                   for r in runs.read_records(there.run_dir)}
    assert answered_by <= pids and os.getpid() not in answered_by
    assert runs.load_run(there.run_dir).manifest.usage["calls"] == 4
