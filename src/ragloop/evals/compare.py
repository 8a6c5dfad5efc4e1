"""Compare two runs example by example, and gate on the result.

Deltas are paired: only examples scored in both runs count, and the 95% interval comes from
resampling those examples (pairs kept together). A *flip* is an example whose binary score
(hit@k, exact match, label, a judge verdict, ...) changed between the runs.

Gates: ``fail_under`` (run B's mean must reach a value) and ``max_regression`` (B may not be
worse than A by more than a delta). With ``repeats`` the judge metrics of both runs are
re-judged N times at a temperature above zero with different seeds, the gates are checked
on each repeat, and the comparison passes when the share of passing repeats reaches
``min_pass_rate`` — judge scores drift between runs, so one lucky judge run decides nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ragloop.evals.judge_agreement import agreement_for_metric, agreements_of_run
from ragloop.evals.metrics.stats import paired_bootstrap_ci
from ragloop.evals.runs import Run, aggregate
from ragloop.evals.scoring import ScoringOptions, context_text, judge_scores
from ragloop.records import EvalRecord


@dataclass(frozen=True)
class MetricDelta:
    metric: str
    a: float
    b: float
    delta: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Flip:
    id: str
    metric: str
    a: float
    b: float
    question: str


@dataclass(frozen=True)
class Gate:
    kind: str  # "fail-under" | "max-regression"
    metric: str
    threshold: float


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    value: float | None  # B's mean (fail-under) or the delta (max-regression)
    passed: bool
    message: str
    warning: str = ""  # e.g. the gate's judge metric comes from an uncalibrated judge


@dataclass
class Comparison:
    run_a: str
    run_b: str
    deltas: list[MetricDelta]
    flips: list[Flip]
    gates: list[GateResult] = field(default_factory=list)
    repeats: int = 0
    repeat_gates: list[list[GateResult]] = field(default_factory=list)  # one list per repeat
    pass_rate: float | None = None
    passed: bool = True

    def as_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def parse_gate(kind: str, spec: str) -> Gate:
    metric, sep, value = spec.partition("=")
    try:
        if not sep or not metric.strip():
            raise ValueError
        return Gate(kind, metric.strip(), float(value))
    except ValueError:
        raise ValueError(f"--{kind} expects METRIC=NUMBER, got {spec!r}") from None


def _paired(a: Run, b: Run) -> list[tuple[EvalRecord, EvalRecord]]:
    a_ok = {r.id: r for r in a.records if r.ok}
    return [(a_ok[r.id], r) for r in b.records if r.ok and r.id in a_ok]


def compare_runs(a: Run, b: Run, *, samples: int = 1000, seed: int = 0) -> Comparison:
    pairs = _paired(a, b)
    metrics = sorted({m for ra, rb in pairs for m in ra.scores if m in rb.scores})
    deltas, flips = [], []
    for metric in metrics:
        both = [(ra, rb) for ra, rb in pairs if metric in ra.scores and metric in rb.scores]
        va = [ra.scores[metric] for ra, _ in both]
        vb = [rb.scores[metric] for _, rb in both]
        delta, low, high = paired_bootstrap_ci(va, vb, samples=samples, seed=seed)
        deltas.append(MetricDelta(metric, sum(va) / len(va), sum(vb) / len(vb), delta, low,
                                  high, len(both)))
        if set(va + vb) <= {0.0, 1.0}:
            flips += [Flip(rb.id, metric, x, y, rb.question)
                      for (_, rb), x, y in zip(both, va, vb, strict=True) if x != y]
    return Comparison(a.name, b.name, deltas, flips)


def judge_warning(metric: str, run: Run) -> str:
    """Why a gate on ``metric`` cannot be trusted, or "" (a judge metric whose judge is
    below ``MIN_KAPPA`` against human labels, or was never calibrated, in ``run``)."""
    agreement = agreement_for_metric(metric, agreements_of_run(run.manifest))
    if agreement is None or agreement.calibrated:
        return ""
    return (f"{metric} comes from a judge that is not calibrated against human labels "
            f"({agreement.describe()}); this gate says little about answer quality")


def check_gates(comparison: Comparison, b: Run, gates: list[Gate]) -> list[GateResult]:
    results = [_check_gate(comparison, b, gate) for gate in gates]
    return [replace(r, warning=judge_warning(r.gate.metric, b)) for r in results]


def _check_gate(comparison: Comparison, b: Run, gate: Gate) -> GateResult:
    if gate.kind == "fail-under":
        value = b.aggregates.get("metrics", {}).get(gate.metric, {}).get("mean")
        if value is None:
            return GateResult(gate, None, False, f"{gate.metric}: not scored in {b.name}")
        ok = value >= gate.threshold
        return GateResult(gate, value, ok, f"{gate.metric} = {value:.4f} "
                          f"{'>=' if ok else '<'} {gate.threshold}")
    delta = next((d for d in comparison.deltas if d.metric == gate.metric), None)
    if delta is None:
        return GateResult(gate, None, False, f"{gate.metric}: not scored in both runs")
    ok = delta.delta >= -gate.threshold
    return GateResult(gate, delta.delta, ok, f"{gate.metric} changed by {delta.delta:+.4f} "
                      f"(allowed down to -{gate.threshold})")


def rejudge(run: Run, judge_llm, *, seed: int, temperature: float,
            judges: tuple[str, ...], version: str) -> Run:
    """A copy of ``run`` with its judge scores replaced by a fresh judging of its records."""
    opts = ScoringOptions(judge=True, judges=judges, judge_prompt_version=version,
                          judge_temperature=temperature, judge_seed=seed)
    records = []
    for record in run.records:
        if record.ok:
            refs = record.reference_answers or ("",)
            scores, results, _ = judge_scores(
                judge_llm, question=record.question, answer=record.answer,
                reference=refs[0], context=context_text([c.text for c in record.context]),
                opts=opts)
            record = record.model_copy(update={
                "scores": {k: v for k, v in record.scores.items()
                           if not k.startswith("judge_")} | scores,
                "judges": results})
        records.append(record)
    return Run(run.path, run.manifest, records, aggregate(records))


def gate(a: Run, b: Run, comparison: Comparison, gates: list[Gate], judge_llm=None, *,
         repeats: int = 0, min_pass_rate: float = 0.5, temperature: float = 0.7,
         samples: int = 1000, seed: int = 0, judges: tuple[str, ...] = ("correctness",
                                                                         "faithfulness",
                                                                         "relevancy"),
         version: str = "v1", on_repeat: Callable[[int], None] | None = None) -> Comparison:
    """Check ``gates`` on the stored scores; with ``repeats`` re-judge both runs that many
    times (seeds seed+1..seed+N) and pass when the share of passing repeats reaches
    ``min_pass_rate``. Sets and returns ``comparison.gates``/``passed``."""
    comparison.gates = check_gates(comparison, b, gates)
    if repeats <= 0:
        comparison.passed = all(g.passed for g in comparison.gates)
        return comparison
    if judge_llm is None:
        raise ValueError("repeats need a judge model")
    for repeat in range(repeats):
        kwargs = dict(seed=seed + repeat + 1, temperature=temperature, judges=judges,
                      version=version)
        ra, rb = rejudge(a, judge_llm, **kwargs), rejudge(b, judge_llm, **kwargs)
        again = compare_runs(ra, rb, samples=samples, seed=seed)
        comparison.repeat_gates.append(check_gates(again, rb, gates))
        if on_repeat:
            on_repeat(repeat + 1)
    passes = sum(all(g.passed for g in results) for results in comparison.repeat_gates)
    comparison.repeats = repeats
    comparison.pass_rate = passes / repeats
    comparison.passed = comparison.pass_rate >= min_pass_rate
    return comparison
