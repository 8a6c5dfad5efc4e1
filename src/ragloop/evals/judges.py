"""LLM judges: correctness against a reference, faithfulness to the retrieved context, and
answer relevancy to the question.

Each judge asks the judge model (``pipeline.judge_llm``, config ``[judge]``) for
schema-constrained JSON ``{"verdict": <enum>, "reason": <short string>}`` so even the tiny
default model produces parseable output. Prompts are versioned: the version string is stored
with every score, and a changed prompt gets a new version, never an edit in place. Output
that cannot be parsed is returned as an *error* for that example, never as a score.

Prompt ``v2`` gives the faithfulness judge evidence a program found: the answer's content
words that the context lacks (``answer.verify.word_support``), so a small judge has the
grounding check's finding to weigh instead of having to find unsupported words itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ragloop.answer.citations import strip_markers
from ragloop.answer.verify import content_words, word_support
from ragloop.errors import ModelError
from ragloop.models.llm import LLMClient
from ragloop.records import LLMCall


@dataclass(frozen=True)
class JudgeSpec:
    name: str
    verdicts: tuple[str, str]  # (pass, fail): the first scores 1.0, the second 0.0
    system: str
    template: str  # str.format fields: question, answer, reference, context, unsupported
    needs: tuple[str, ...]  # fields that must be non-empty for the judge to apply


_SYSTEM = ("You are a careful grader. Read the inputs and give a verdict. Reply only with JSON: "
           '{"verdict": ..., "reason": ...}. Keep the reason to one short sentence.')

PROMPTS: dict[str, dict[str, JudgeSpec]] = {
    "v1": {
        "correctness": JudgeSpec(
            "correctness", ("correct", "incorrect"), _SYSTEM,
            "Question: {question}\n\nReference answer: {reference}\n\n"
            "Candidate answer: {answer}\n\n"
            "Does the candidate answer say the same thing as the reference answer? "
            'Verdict "correct" if it agrees with the reference, "incorrect" if it contradicts '
            "it, misses its main point or does not answer.",
            ("question", "answer", "reference")),
        "faithfulness": JudgeSpec(
            "faithfulness", ("faithful", "unfaithful"), _SYSTEM,
            "Context:\n{context}\n\nQuestion: {question}\n\nAnswer: {answer}\n\n"
            "Is every claim in the answer supported by the context? "
            'Verdict "faithful" if the context supports the answer, "unfaithful" if the answer '
            "states something the context does not say.",
            ("answer", "context")),
        "relevancy": JudgeSpec(
            "relevancy", ("relevant", "irrelevant"), _SYSTEM,
            "Question: {question}\n\nAnswer: {answer}\n\n"
            "Does the answer address the question that was asked? "
            'Verdict "relevant" if it responds to the question, "irrelevant" if it talks about '
            "something else or does not respond.",
            ("question", "answer")),
    },
}
PROMPTS["v2"] = {
    **PROMPTS["v1"],
    "faithfulness": JudgeSpec(
        "faithfulness", ("faithful", "unfaithful"), _SYSTEM,
        "Context:\n{context}\n\nQuestion: {question}\n\nAnswer: {answer}\n\n"
        "Answer words the context does not contain: {unsupported}\n\n"
        "Is every claim in the answer supported by the context? "
        'Verdict "faithful" if the context supports the answer, "unfaithful" if the answer '
        "states something the context does not say.",
        ("answer", "context")),
}
JUDGES = tuple(PROMPTS["v1"])
MAX_REASON_CHARS = 160
MAX_CONTEXT_CHARS = 3500  # keeps the judge prompt inside a 2048-token window


def judge_schema(spec: JudgeSpec) -> dict:
    return {"type": "object",
            "properties": {"verdict": {"type": "string", "enum": list(spec.verdicts)},
                           "reason": {"type": "string", "maxLength": MAX_REASON_CHARS}},
            "required": ["verdict", "reason"], "additionalProperties": False}


@dataclass(frozen=True)
class JudgeResult:
    judge: str
    prompt_version: str
    model: str
    verdict: str | None = None
    score: float | None = None  # 1.0 pass, 0.0 fail, None on error
    reason: str = ""
    error: str | None = None
    call: LLMCall | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        data["call"] = self.call.model_dump() if self.call else None
        return data


def get_spec(judge: str, version: str) -> JudgeSpec:
    try:
        return PROMPTS[version][judge]
    except KeyError:
        raise ValueError(f"no judge {judge!r} with prompt version {version!r}; "
                         f"versions: {sorted(PROMPTS)}, judges: {list(JUDGES)}") from None


def applies(judge: str, *, reference: str = "", context: str = "", version: str = "v1") -> bool:
    fields = {"question": "q", "answer": "a", "reference": reference, "context": context}
    return all(fields[name].strip() for name in get_spec(judge, version).needs)


def judge_messages(judge: str, *, question: str, answer: str, reference: str = "",
                   context: str = "", version: str = "v1") -> list[dict]:
    """The chat messages a judge sends (also what judge training rows are built from)."""
    spec = get_spec(judge, version)
    context = context.strip()[:MAX_CONTEXT_CHARS]
    unsupported = (unsupported_words(answer, context) if "{unsupported}" in spec.template
                   else "")
    prompt = spec.template.format(question=question.strip(), answer=answer.strip() or "(empty)",
                                  reference=reference.strip(), context=context,
                                  unsupported=unsupported)
    return [{"role": "system", "content": spec.system}, {"role": "user", "content": prompt}]


def unsupported_words(answer: str, context: str, *, limit: int = 12) -> str:
    """The evidence line of prompt v2: "none", or "3 of 9: splade, gpu, sparse"."""
    _, missing = word_support(answer, context)
    if not missing:
        return "none"
    total = len(content_words(strip_markers(answer)))
    shown = list(dict.fromkeys(missing))[:limit]
    return f"{len(missing)} of {total}: {', '.join(shown)}"


def run_judge(llm: LLMClient, judge: str, *, question: str, answer: str, reference: str = "",
              context: str = "", version: str = "v1", temperature: float = 0.0, seed: int = 0,
              max_tokens: int = 96) -> JudgeResult:
    spec = get_spec(judge, version)
    base = {"judge": judge, "prompt_version": version, "model": llm.model_id}
    try:
        completion = llm.complete(judge_messages(judge, question=question, answer=answer,
                                                 reference=reference, context=context,
                                                 version=version),
                                  schema=judge_schema(spec), temperature=temperature,
                                  max_tokens=max_tokens, seed=seed)
    except ModelError as err:  # SchemaValidationError included: unparseable is an error
        return JudgeResult(**base, error=f"{type(err).__name__}: {err}"[:600])
    verdict = completion.parsed["verdict"]
    return JudgeResult(**base, verdict=verdict, score=1.0 if verdict == spec.verdicts[0] else 0.0,
                       reason=completion.parsed["reason"],
                       call=LLMClient.call_record(f"judge-{judge}", completion))
