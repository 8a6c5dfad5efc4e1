"""Training prompts built exactly as the pipeline builds them at answer time, so a model is
trained on the inputs it will see: the question (with the eval runner's label instruction
when the example has a label), the project's retrieval packed into the window, and the
grounded prompt of ``[answer] citation_style``."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ragloop.answer.grounded import retrieve
from ragloop.answer.prompt import answer_messages
from ragloop.evals.runner import RunOptions
from ragloop.records import Candidate, EvalExample


def answer_instruction(example: EvalExample, labels: Sequence[str]) -> str:
    """The answer instruction ``ragloop eval run`` gives with this example (its label
    instruction), or nothing."""
    instruction = RunOptions().label_instruction
    if example.label is None or not labels or not instruction:
        return ""
    return instruction.format(labels=", ".join(labels))


def dataset_labels(examples: Sequence[EvalExample]) -> tuple[str, ...]:
    """The label set the eval runner offers (sorted, from the whole dataset)."""
    return tuple(sorted({e.label for e in examples if e.label is not None}))


def grounded_prompt(pipeline, question: str, instruction: str = ""
                    ) -> tuple[list[dict], list[Candidate]]:
    """Retrieval on the bare question, the instruction in the answer prompt only — as
    ``Pipeline.ask(question, instruction=...)`` does."""
    settings = pipeline.settings.answer
    candidates = retrieve(question, pipeline.retriever, pipeline.llm, settings,
                          extra_prompt=instruction)
    messages = answer_messages(question, candidates, style=settings.citation_style,
                               answer_instruction=instruction)
    return [m.model_dump() for m in messages], candidates


def answer_content(text: str, sources: Sequence[int], style: str) -> str:
    """The assistant turn in the format the grounded prompt asks for."""
    if style == "json":
        return json.dumps({"answer": text, "sources": list(sources)}, ensure_ascii=False)
    return " ".join([text.strip(), *(f"[{n}]" for n in sources)])
