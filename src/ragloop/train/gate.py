"""The gate after training: the same eval on the base and the tuned model, compared example
by example (``evals.compare``, paired bootstrap). It passes only when the tuned model is
better on the chosen metric with the whole 95% interval of the difference above zero."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ragloop.evals.compare import Comparison, MetricDelta, compare_runs
from ragloop.evals.runs import Run, load_run
from ragloop.project import Project


@dataclass
class GateOutcome:
    base_run: Run
    tuned_run: Run
    comparison: Comparison
    metric: str
    delta: MetricDelta | None
    passed: bool
    message: str


def decide(comparison: Comparison, metric: str) -> tuple[MetricDelta | None, bool, str]:
    delta = next((d for d in comparison.deltas if d.metric == metric), None)
    if delta is None:
        scored = ", ".join(d.metric for d in comparison.deltas) or "none"
        return None, False, f"{metric} was not scored in both runs (scored: {scored})"
    passed = delta.delta > 0 and delta.low > 0
    verdict = "better" if passed else "not better"
    return delta, passed, (f"{metric}: base {delta.a:.3f} → tuned {delta.b:.3f}, "
                           f"{delta.delta:+.3f} [{delta.low:+.3f}, {delta.high:+.3f}] "
                           f"on {delta.n} examples: {verdict}")


def with_model(project: Project, *, model: str = "", model_path: str = "") -> Project:
    settings = project.settings
    llm = settings.llm.model_copy(update={"backend": "llamacpp", "model": model,
                                          "model_path": model_path})
    return Project(project.root, settings.model_copy(update={"llm": llm}))


def run_gate(project: Project, name: str, base_gguf: Path, dataset: Path, *, metric: str,
             limit: int | None = None, workers: int | None = None, use_cache: bool = True,
             progress=None) -> GateOutcome:
    """Evaluate ``base_gguf`` and the registered model ``name`` on ``dataset`` through the
    project's pipeline; ``progress(label, done, total)``."""
    from ragloop.evals.runner import RunOptions, run_eval
    from ragloop.pipeline import Pipeline

    options = RunOptions(limit=limit, workers=workers or project.settings.eval.workers)
    runs = []
    for label, variant in (("base", with_model(project, model_path=str(base_gguf))),
                           ("tuned", with_model(project, model=name))):
        pipeline = Pipeline(variant, use_cache=use_cache)
        hook = (lambda done, total, label=label: progress(label, done, total)) if progress \
            else None
        result = run_eval(pipeline, dataset, options=options, progress=hook)
        runs.append(load_run(result.run_dir))
    comparison = compare_runs(runs[0], runs[1], samples=project.settings.eval.bootstrap_samples,
                              seed=project.settings.eval.seed)
    delta, passed, message = decide(comparison, metric)
    comparison.passed = passed
    return GateOutcome(runs[0], runs[1], comparison, metric, delta, passed, message)
