"""One golden example through the project's pipeline: what was asked, retrieved, put in the
prompt and answered, and its scores (``evaluate_example``). The leaf of the eval room: the
runner maps ``ExampleTask`` over an executor — threads of this process, or worker processes
that each build their own pipeline once with the factory they were given."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ragloop.answer.citations import place
from ragloop.evals.metrics.retrieval import retrieval_scores
from ragloop.evals.scoring import (
    ScoringOptions,
    context_text,
    gold_level,
    ids_at,
    judge_scores,
    step_scores,
)
from ragloop.records import (
    AnswerRequest,
    CitedRef,
    ContextRef,
    Conversation,
    EvalExample,
    EvalLatency,
    EvalRecord,
    EvalTokens,
    RetrievedRef,
)

DEFAULT_LABEL_INSTRUCTION = "Answer with one word first: {labels}."


def answer_instruction(example: EvalExample, scoring: ScoringOptions,
                       label_instruction: str = DEFAULT_LABEL_INSTRUCTION) -> str:
    """The label instruction for a labelled example (so the model answers with a label),
    else nothing. It goes to the answer prompt; retrieval runs on the bare question."""
    if example.label is not None and scoring.labels and label_instruction:
        return label_instruction.format(labels=", ".join(scoring.labels))
    return ""


def evaluate_example(pipeline, example: EvalExample, scoring: ScoringOptions,
                     label_instruction: str = DEFAULT_LABEL_INSTRUCTION) -> EvalRecord:
    """One record: what was asked, retrieved, put in the prompt and answered, and its scores."""
    instruction = answer_instruction(example, scoring, label_instruction)
    asked = f"{example.question} {instruction}" if instruction else example.question
    base = dict(id=example.id, question=example.question, instruction=instruction, asked=asked,
                tags=example.tags, label=example.label, labels=scoring.labels,
                reference_answers=example.reference_answers,
                gold_doc_ids=example.gold_doc_ids, gold_chunk_ids=example.gold_chunk_ids,
                history=example.history)
    alone = None
    try:
        start = time.perf_counter()
        if example.history:
            request, alone = _follow_up(pipeline, example, instruction, max(scoring.ks))
            retrieved = pipeline.retrieve(request.search_query or example.question,
                                          k=max(scoring.ks))
        else:
            retrieved = pipeline.retrieve(example.question, k=max(scoring.ks))
        retrieve_s = time.perf_counter() - start
        start = time.perf_counter()
        if example.history:
            answer = pipeline.answer(request)
        else:
            answer = pipeline.ask(example.question, instruction=instruction)
        answer_s = time.perf_counter() - start
    except Exception as err:  # one failed example is recorded; the batch goes on
        return EvalRecord(**base, error=f"{type(err).__name__}: {err}",
                          traceback=traceback.format_exc(limit=5))
    scores, predicted = step_scores(example, retrieved, answer, scoring)
    level = gold_level(example)
    if alone is not None and level:  # what the history bought: the follow-up searched alone
        gold = example.gold_chunk_ids if level == "chunk" else example.gold_doc_ids
        scores.update({f"alone_{name}": value for name, value in
                       retrieval_scores(ids_at(level, alone), gold, scoring.ks).items()})
    judges: dict = {}
    judge_s = 0.0
    if scoring.judge:
        reference = example.reference_answers[0] if example.reference_answers else ""
        judged, judges, judge_s = judge_scores(
            pipeline.judge_llm, question=example.question, answer=answer.text,
            reference=reference, context=context_text([c.chunk.text for c in answer.candidates]),
            opts=scoring)
        scores.update(judged)
    return EvalRecord(
        **base,
        retrieved=[RetrievedRef(chunk_id=c.chunk.id, doc_id=c.chunk.doc_id, score=c.score,
                                title=c.chunk.header or c.chunk.metadata.get("title", ""),
                                source=c.chunk.metadata.get("source", ""),
                                place=place(c.chunk))
                   for c in retrieved],
        context=[ContextRef(chunk_id=c.chunk.id, doc_id=c.chunk.doc_id, text=c.chunk.text,
                            title=c.chunk.header or c.chunk.metadata.get("title", ""),
                            source=c.chunk.metadata.get("source", ""))
                 for c in answer.candidates],
        answer=answer.text, refused=answer.refused, strategy=answer.strategy,
        citations=[CitedRef(marker=c.marker, chunk_id=c.chunk_id, doc_id=c.doc_id)
                   for c in answer.citations],
        predicted_label=predicted, judges=judges, scores=scores,
        search_query=str(answer.metadata.get("search_query", "")) if example.history else "",
        latency=EvalLatency(retrieve_s=retrieve_s, answer_s=answer_s, judge_s=judge_s,
                            total_s=retrieve_s + answer_s),
        tokens=EvalTokens(prompt=answer.prompt_tokens, completion=answer.completion_tokens,
                          calls=len(answer.calls),
                          cached_calls=sum(1 for c in answer.calls if c.cached)))




def _follow_up(pipeline, example: EvalExample, instruction: str, k: int):
    """A follow-up's request, its search made standalone by the pipeline's condenser
    (``[chat] condense``), and what the follow-up alone retrieves."""
    conversation = Conversation(id=str(example.metadata.get("conversation", example.id)),
                                turns=example.history)
    request = AnswerRequest(question=example.question, instruction=instruction,
                            conversation=conversation)
    prepared = pipeline.chat_engine.prepare(request).request
    request = request.model_copy(update={"search_query": prepared.search_query})
    return request, pipeline.retrieve(example.question, k=k)


@dataclass
class ExampleResult:
    """An example's record and what it cost the answer LLM it ran on (a worker's usage
    never reaches the caller's client, so a run's totals add these)."""

    record: EvalRecord
    usage: dict[str, float]


class ExampleTask:
    """``evaluate_example`` as a task for an executor. Given a ``pipeline``, it runs there
    (threads share it); given ``make_pipeline`` (a picklable factory), each worker builds
    its own pipeline once, and the task pickles without it."""

    def __init__(self, scoring: ScoringOptions, label_instruction: str, *, pipeline=None,
                 make_pipeline: Callable[[], Any] | None = None):
        if (pipeline is None) == (make_pipeline is None):
            raise ValueError("give a pipeline or a factory that makes one")
        self.scoring = scoring
        self.label_instruction = label_instruction
        self.make_pipeline = make_pipeline
        self._pipeline = pipeline

    def __getstate__(self) -> dict:
        if self.make_pipeline is None:
            raise TypeError("an ExampleTask over a live pipeline runs in this process only")
        return {**self.__dict__, "_pipeline": None}

    def __call__(self, example: EvalExample) -> ExampleResult:
        if self._pipeline is None:
            self._pipeline = self.make_pipeline()
        if self.make_pipeline is None:  # shared by threads: the run reads the client's usage
            return ExampleResult(evaluate_example(self._pipeline, example, self.scoring,
                                                  self.label_instruction), {})
        usage = self._pipeline.llm.usage
        before = usage.as_dict()
        record = evaluate_example(self._pipeline, example, self.scoring,
                                  self.label_instruction)
        return ExampleResult(record, {k: v - before[k] for k, v in usage.as_dict().items()})
