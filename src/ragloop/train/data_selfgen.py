"""Verified self-generation: best-of-N answers from the current model, each checked by the
existing verifiers, turned into training rows — the slow path (sample, verify) distilled
into the fast one.

Per question: the grounded prompt the pipeline would build, then ``samples`` answers (the
first greedy, the rest at ``temperature`` with seeds 1..N-1). A sample is accepted when

- it parses (the JSON answer format) and is not a refusal,
- its citations are valid (at least one ``[n]``, none pointing past the context),
- it passes the grounding check (``answer.verify.GroundingVerifier``), and
- its label agrees with the gold label, when the example has one.

Accepted → an SFT row (the first accepted sample per question); the first accepted vs the
first rejected → a DPO row. The report says how many samples, the acceptance rate and the
cost in model calls, tokens and seconds.

With ``teacher="extract"``, a question none of whose samples passes gets the extractive
answer instead (``answer.strategies.extract``: sentences of the retrieved chunks, no model
call), when it passes the same checks: the grounded floor distilled into the model, and the
model's rejected sample as its DPO counterpart. The report counts these rows apart.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ragloop.answer.citations import extract_citations, is_refusal, strip_markers
from ragloop.answer.grounded import Tally, generate
from ragloop.answer.strategies.extract import ExtractStrategy
from ragloop.answer.verify import GroundingVerifier
from ragloop.evals.metrics.answer import extract_label
from ragloop.records import AnswerRequest, EvalExample
from ragloop.train.prompts import (
    answer_content,
    answer_instruction,
    dataset_labels,
    grounded_prompt,
)

TEACHERS = ("extract",)  # answers used where no sample of the model passes


@dataclass
class SelfGenReport:
    questions: int = 0
    samples: int = 0
    accepted: int = 0
    questions_with_accepted: int = 0
    rejected_because: Counter = field(default_factory=Counter)
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    teacher: str | None = None
    teacher_rows: int = 0  # questions whose SFT row is the teacher's answer
    sft: list[dict] = field(default_factory=list)
    dpo: list[dict] = field(default_factory=list)

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.samples if self.samples else 0.0

    def summary(self) -> dict:
        return {"questions": self.questions, "samples": self.samples,
                "samples_per_question": self.samples / max(1, self.questions),
                "accepted": self.accepted, "acceptance_rate": self.acceptance_rate,
                "questions_with_accepted": self.questions_with_accepted,
                "rejected_because": dict(self.rejected_because), "calls": self.calls,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "seconds": self.seconds,
                "s_per_question": self.seconds / max(1, self.questions),
                "teacher": self.teacher, "teacher_rows": self.teacher_rows,
                "sft_rows": len(self.sft), "dpo_rows": len(self.dpo)}


def rejection(draft, candidates, example: EvalExample, labels: Sequence[str],
              verifier: GroundingVerifier) -> str | None:
    """Why a sample is rejected, or None when every check passes."""
    if draft.schema_error:
        return "malformed"
    return text_rejection(draft.text, candidates, example, labels, verifier)


def text_rejection(text: str, candidates, example: EvalExample, labels: Sequence[str],
                   verifier: GroundingVerifier) -> str | None:
    if not text.strip() or is_refusal(text):
        return "refusal"
    citations, invalid = extract_citations(text, candidates)
    if invalid or not citations:
        return "citations"
    if not verifier.check("", text, candidates).passed:
        return "grounding"
    if example.label is not None and extract_label(text, labels) != example.label:
        return "label"
    return None


def extractive_turn(strategy: ExtractStrategy, llm, candidates, example: EvalExample,
                    labels: Sequence[str], verifier: GroundingVerifier) -> list[dict] | None:
    """The extractive answer as an assistant turn in the prompt's answer format, or None
    when it refuses or fails a check."""
    answer = strategy.answer(AnswerRequest(question=example.question), candidates, Tally())
    if answer.refused or text_rejection(answer.text, candidates, example, labels, verifier):
        return None
    markers = sorted({c.marker for c in answer.citations})
    content = answer_content(strip_markers(answer.text), markers, strategy.style)
    return [{"role": "assistant", "content": content}]


def self_generate(pipeline, examples: Sequence[EvalExample], *, samples: int = 4,
                  temperature: float = 0.7, max_tokens: int | None = None,
                  teacher: str | None = None,
                  on_example: Callable[[], None] | None = None) -> SelfGenReport:
    if teacher not in (None, *TEACHERS):
        raise ValueError(f"teacher must be one of {', '.join(TEACHERS)}, got {teacher!r}")
    settings = pipeline.settings.answer
    labels = dataset_labels(examples)
    verifier = GroundingVerifier()
    report = SelfGenReport(teacher=teacher)
    extract = pipeline.answerer.strategy("extract") if teacher else None
    started = time.perf_counter()
    for example in examples:
        instruction = answer_instruction(example, labels)
        prompt, candidates = grounded_prompt(pipeline, example.question, instruction)
        accepted, rejected = [], []
        for i in range(samples):
            draft = generate(example.question, candidates, pipeline.llm,
                             style=settings.citation_style, purpose=f"selfgen-{i}",
                             max_tokens=max_tokens or settings.max_tokens,
                             temperature=0.0 if i == 0 else temperature, seed=i,
                             answer_instruction=instruction)
            report.samples += 1
            report.calls += 1
            report.prompt_tokens += draft.completion.prompt_tokens
            report.completion_tokens += draft.completion.completion_tokens
            why = rejection(draft, candidates, example, labels, verifier)
            turn = [{"role": "assistant", "content": draft.completion.text.strip()}]
            if why is None:
                report.accepted += 1
                accepted.append(turn)
            else:
                report.rejected_because[why] += 1
                if turn[0]["content"]:
                    rejected.append(turn)
        report.questions += 1
        if not accepted and extract is not None:
            turn = extractive_turn(extract, pipeline.llm, candidates, example, labels,
                                   verifier)
            if turn is not None:
                accepted.append(turn)
                report.teacher_rows += 1
        if accepted:
            report.questions_with_accepted += 1
            report.sft.append({"id": example.id, "prompt": prompt, "completion": accepted[0]})
            if rejected and rejected[0] != accepted[0]:
                report.dpo.append({"id": example.id, "prompt": prompt, "chosen": accepted[0],
                                   "rejected": rejected[0]})
        if on_example:
            on_example()
    report.seconds = time.perf_counter() - started
    return report
