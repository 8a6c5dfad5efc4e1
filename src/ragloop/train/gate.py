"""The gate after training: the same eval on the base and the tuned model, compared example
by example (``evals.compare``, paired bootstrap). It passes only when the tuned model is
better on the chosen metric with the whole 95% interval of the difference above zero.

Both models answer through the project's backend (``gate_variants``):

- ``llamacpp`` (in-process): the base is the GGUF the model was trained from, the tuned one
  the registered model (a merged GGUF, or the base GGUF with the LoRA GGUF applied);
- a served backend (``openai``: vLLM, a llama.cpp server, Ollama ...): one server serves
  both under two model names, the base as ``[llm] model`` (or ``base_model``) and the tuned
  model under its registered name (or ``tuned_model``), e.g. vLLM's
  ``--lora-modules NAME=<adapter folder>`` or a llama.cpp server with the LoRA GGUF.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ragloop.errors import ModelError
from ragloop.evals.compare import Comparison, MetricDelta, compare_runs
from ragloop.evals.runs import Run, load_run
from ragloop.models.registry import RegisteredModel
from ragloop.project import Project
from ragloop.records import GateResultRecord


@dataclass
class GateOutcome:
    base_run: Run
    tuned_run: Run
    comparison: Comparison
    metric: str
    delta: MetricDelta | None
    passed: bool
    message: str
    backend: str = "llamacpp"
    base_model: str = ""
    tuned_model: str = ""

    def record(self, dataset: Path) -> GateResultRecord:
        """The outcome as the model's lineage keeps it."""
        return GateResultRecord(
            dataset=str(dataset), metric=self.metric, before=self.base_run.aggregates,
            after=self.tuned_run.aggregates,
            delta=self.delta.__dict__ if self.delta else None,
            runs=(str(self.base_run.path), str(self.tuned_run.path)),
            gate_passed=self.passed, backend=self.backend, base_model=self.base_model,
            tuned_model=self.tuned_model)


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


def with_llm(project: Project, **llm) -> Project:
    """``project`` answering with ``[llm]`` keys replaced (in memory only)."""
    settings = project.settings
    return Project(project.root, settings.model_copy(update={
        "llm": settings.llm.model_copy(update=llm)}))


def gate_variants(project: Project, model: RegisteredModel, *, base_model: str = "",
                  tuned_model: str = "") -> tuple[tuple[str, Project], tuple[str, Project]]:
    """((label, project answering as the base), (label, ... as the tuned model)) through
    the project's backend; see the module doc."""
    backend = project.settings.llm.backend
    if backend == "llamacpp":
        lineage = model.lineage
        if lineage.base.gguf is None:
            raise ModelError(f"{model.name!r} was trained from a Hugging Face folder "
                             f"({lineage.base.path}) that the llama.cpp backend cannot load; "
                             "serve base and tuned with an OpenAI-compatible server and set "
                             "[llm] backend = \"openai\"")
        model.check_llamacpp()
        base = lineage.base.gguf
        return ((base, with_llm(project, model="", model_path=base)),
                (model.name, with_llm(project, model=model.name, model_path="")))
    base = base_model or project.settings.llm.model
    tuned = tuned_model or model.name
    if not base:
        raise ModelError(f"[llm] backend = {backend!r}: name the served base model "
                         "([llm] model or --base-model)")
    if base == tuned:
        raise ModelError(f"the base and the tuned model are both served as {base!r}; serve "
                         "the tuned model under another name (--tuned-model)")
    return (base, with_llm(project, model=base)), (tuned, with_llm(project, model=tuned))


def run_gate(project: Project, model: RegisteredModel, dataset: Path, *, metric: str,
             limit: int | None = None, workers: int | None = None, use_cache: bool = True,
             base_model: str = "", tuned_model: str = "", progress=None) -> GateOutcome:
    """Evaluate the base and the registered ``model`` on ``dataset`` through the project's
    pipeline and backend; ``progress(label, done, total)``."""
    from ragloop.evals.runner import RunOptions, run_eval
    from ragloop.pipeline import Pipeline

    options = RunOptions(limit=limit, workers=workers or project.settings.eval.workers)
    variants = gate_variants(project, model, base_model=base_model, tuned_model=tuned_model)
    runs = []
    for label, (_, variant) in zip(("base", "tuned"), variants, strict=True):
        hook = (lambda done, total, label=label: progress(label, done, total)) if progress \
            else None
        with Pipeline(variant, use_cache=use_cache) as pipeline:
            result = run_eval(pipeline, dataset, options=options, progress=hook)
        runs.append(load_run(result.run_dir))
    comparison = compare_runs(runs[0], runs[1], samples=project.settings.eval.bootstrap_samples,
                              seed=project.settings.eval.seed)
    delta, passed, message = decide(comparison, metric)
    comparison.passed = passed
    return GateOutcome(runs[0], runs[1], comparison, metric, delta, passed, message,
                       backend=project.settings.llm.backend, base_model=variants[0][0],
                       tuned_model=variants[1][0])
