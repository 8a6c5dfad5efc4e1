"""Score one example as the pipeline answered it, step by step, so a regression points at
its step: retrieval (ranked list vs gold), context selection (gold among the chunks put in
the prompt), generation (EM/F1/label, citations) and, optionally, the LLM judges."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ragloop.errors import ModelError
from ragloop.evals.judges import JUDGES, applies, get_spec, run_judge
from ragloop.evals.likelihood import GAIN_METRIC, LIKELIHOOD_JUDGE, VERDICT_METRIC, context_gain
from ragloop.evals.metrics.answer import exact_match, extract_label, token_f1
from ragloop.evals.metrics.citations import citation_scores, markers_of
from ragloop.evals.metrics.retrieval import context_scores, retrieval_scores
from ragloop.records import Answer, Candidate, EvalExample


@dataclass(frozen=True)
class ScoringOptions:
    ks: tuple[int, ...] = (1, 5, 10)
    labels: tuple[str, ...] = ()  # the dataset's label set; empty: no label scoring
    judge: bool = False
    judges: tuple[str, ...] = JUDGES
    judge_prompt_version: str = "v1"
    judge_temperature: float = 0.0
    judge_seed: int = 0
    # the likelihood judge's score, ``faithfulness_gain`` (nats/token of the answer gained
    # from its context), where the judge model can score text
    likelihood: bool = False
    # its verdict cut, fitted by ``eval calibrate`` (None: the score alone, no verdict)
    likelihood_threshold: float | None = None


def gold_level(example: EvalExample) -> str | None:
    if example.gold_chunk_ids:
        return "chunk"
    return "doc" if example.gold_doc_ids else None


def ids_at(level: str, candidates: Sequence[Candidate]) -> list[str]:
    return [c.chunk.id if level == "chunk" else c.chunk.doc_id for c in candidates]


def step_scores(example: EvalExample, retrieved: Sequence[Candidate], answer: Answer,
                opts: ScoringOptions) -> tuple[dict[str, float], str | None]:
    """Deterministic scores (no model calls) and the predicted label, if any."""
    scores: dict[str, float] = {}
    level = gold_level(example)
    if level:
        gold = example.gold_chunk_ids if level == "chunk" else example.gold_doc_ids
        scores.update(retrieval_scores(ids_at(level, retrieved), gold, opts.ks))
        scores.update(context_scores(ids_at(level, answer.candidates), gold))
    if example.reference_answers:
        scores["exact_match"] = exact_match(answer.text, example.reference_answers)
        scores["token_f1"] = token_f1(answer.text, example.reference_answers)
    predicted = None
    if example.label is not None and opts.labels:
        predicted = extract_label(answer.text, opts.labels)
        scores["label_accuracy"] = float(predicted == example.label)
    texts = {c.chunk.id: c.chunk.text for c in answer.candidates}
    if not answer.refused:
        scores.update(citation_scores(answer.text, markers_of(answer.citations, texts)))
    scores["refused"] = float(answer.refused)
    return scores, predicted


def context_text(chunk_texts: Sequence[str]) -> str:
    return "\n\n".join(f"[{n}] {text}" for n, text in enumerate(chunk_texts, 1))


def judge_scores(judge_llm, *, question: str, answer: str, reference: str, context: str,
                 opts: ScoringOptions) -> tuple[dict[str, float], dict[str, dict], float]:
    """Judge scores, every judge's full result (verdict, reason, version, error), seconds.

    Takes plain strings so ``compare --repeats`` can re-judge the records of a finished run."""
    scores: dict[str, float] = {}
    results: dict[str, dict] = {}
    start = time.perf_counter()
    for name in opts.judges:
        if not applies(name, reference=reference, context=context,
                       version=opts.judge_prompt_version):
            continue
        result = run_judge(judge_llm, name, question=question, answer=answer,
                           reference=reference, context=context,
                           version=opts.judge_prompt_version,
                           temperature=opts.judge_temperature, seed=opts.judge_seed)
        results[name] = result.as_dict()
        if result.score is not None:
            scores[f"judge_{name}"] = result.score
    if opts.likelihood and context.strip():
        try:
            gain = context_gain(judge_llm, question=question, answer=answer, context=context)
        except ModelError as err:  # this example's score is missing, and says why
            results[LIKELIHOOD_JUDGE] = {"judge": LIKELIHOOD_JUDGE, "score": None,
                                         "error": f"{type(err).__name__}: {err}"[:600]}
        else:
            cut = opts.likelihood_threshold
            faithful, unfaithful = get_spec("faithfulness", opts.judge_prompt_version).verdicts
            verdict = None if gain is None or cut is None else \
                faithful if gain >= cut else unfaithful
            results[LIKELIHOOD_JUDGE] = {
                "judge": LIKELIHOOD_JUDGE, "score": gain, "verdict": verdict, "error": None,
                "reason": "" if gain is None else f"context gain {gain:+.2f} nats/token"
                + ("" if cut is None else f" (threshold {cut:+.2f})")}
            if gain is not None:
                scores[GAIN_METRIC] = gain
            if verdict is not None:
                scores[VERDICT_METRIC] = float(verdict == faithful)
    return scores, results, time.perf_counter() - start
