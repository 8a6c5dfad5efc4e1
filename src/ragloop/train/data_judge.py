"""Training rows for the faithfulness judge whose verdicts are known by construction, so no
model (and no person) labels them — and the human-labelled calibration set stays whole as the
held-out test of the tuned judge.

For each question of a golden set, the context is what the project's retriever returns for
it (as the eval runner gives it to the judge, numbered ``[n]``, or as plain text, alternating
seeded). Then:

- **faithful**: a sentence of that context, verbatim (sometimes with a ``[1]`` citation);
- **unfaithful**, in turn one of: a sentence of another question's context (nothing here
  says it); a context sentence followed by such a foreign sentence (part supported, part
  not — the case the human labels hold); a context sentence with one of its numbers changed;
  a context sentence with some of its content words swapped for a foreign sentence's (on
  topic, but claiming what the context does not say). A candidate that occurs in the
  context anyway is dropped.

Human-labelled items of a calibration file's *train* split (``label_cases``, ``human_rows``)
add in-domain rows: their own verdicts, and constructed rows over their context passages.

**Distilled** rows (``distilled_rows``) are the one source whose answers the model writes
itself: a paraphrase of a context sentence and a closed-book answer to the question (no
context), the kinds of answer a grounded model really gives. Their verdicts come from the
likelihood judge (``ragloop.evals.likelihood``) at its fitted threshold — the model's own
likelihoods teaching its words — and an answer whose gain lies within ``margin`` of the
threshold is left out rather than guessed.

The assistant turn is the judge's JSON (``{"verdict", "reason"}``) with a fixed reason per
verdict. DPO rows pair the right verdict with the wrong one on the same prompt.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from ragloop.errors import ModelError
from ragloop.evals.judges import get_spec, judge_messages
from ragloop.evals.likelihood import context_gain
from ragloop.evals.scoring import context_text
from ragloop.models.llm import LLMClient
from ragloop.records import EvalExample
from ragloop.train.data_golden import SENTENCE_BREAK

JUDGE = "faithfulness"
REASONS = {"faithful": "The context states this.",
           "unfaithful": "The context does not support this claim."}
UNFAITHFUL_KINDS = ("foreign", "mixed", "number", "swap")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
_CONTENT_WORD = re.compile(r"\b[A-Za-z][A-Za-z-]{4,}\b")
MIN_CHARS, MAX_CHARS = 30, 300


@dataclass(frozen=True)
class JudgeCase:
    """One question with its retrieved context and the sentences an answer can quote."""

    id: str
    question: str
    context: str
    sentences: tuple[str, ...]


def sentences_of(texts: Sequence[str]) -> tuple[str, ...]:
    found = []
    for text in texts:
        for sentence in SENTENCE_BREAK.split(" ".join(text.split())):
            if MIN_CHARS <= len(sentence) <= MAX_CHARS and sentence[-1] in ".!?":
                found.append(sentence)
    return tuple(found)


def build_cases(pipeline, examples: Sequence[EvalExample], *, context_chunks: int = 1,
                seed: int = 0) -> list[JudgeCase]:
    """Retrieve each question's context; questions whose context has no usable sentence are
    left out."""
    rng = random.Random(seed)
    cases = []
    for example in examples:
        texts = [c.chunk.text for c in pipeline.retrieve(example.question, k=context_chunks)]
        sentences = sentences_of(texts)
        if not sentences:
            continue
        context = context_text(texts) if rng.random() < 0.5 else "\n\n".join(texts)
        cases.append(JudgeCase(example.id, example.question, context, sentences))
    return cases


def _changed_number(sentence: str, rng: random.Random) -> str | None:
    numbers = list(_NUMBER.finditer(sentence))
    if not numbers:
        return None
    match = rng.choice(numbers)
    value = match.group()
    digits = len(value.split(".")[1]) if "." in value else 0
    changed = float(value) * rng.choice((2, 3, 0.5)) + rng.choice((1, 7, 13))
    new = f"{changed:.{digits}f}"
    return sentence[:match.start()] + new + sentence[match.end():] if new != value else None


def _swapped_words(sentence: str, foreign: str, context: str, rng: random.Random
                   ) -> str | None:
    """Up to three of the sentence's content words replaced by foreign content words that
    the context does not contain."""
    mine = list(_CONTENT_WORD.finditer(sentence))
    lowered = context.lower()
    theirs = [w for w in dict.fromkeys(_CONTENT_WORD.findall(foreign))
              if w.lower() not in lowered]
    if not mine or not theirs:
        return None
    count = min(len(mine), len(theirs), rng.choice((1, 2, 3)))
    picks = sorted(rng.sample(mine, count), key=lambda m: m.start(), reverse=True)
    for match, word in zip(picks, rng.sample(theirs, count), strict=True):
        sentence = sentence[:match.start()] + word + sentence[match.end():]
    return sentence


def unfaithful_answer(case: JudgeCase, others: Sequence[JudgeCase], kind: str,
                      rng: random.Random) -> str | None:
    foreign = rng.choice(rng.choice(others).sentences) if others else None
    if kind == "foreign":
        answer = foreign
    elif kind == "mixed":
        answer = f"{rng.choice(case.sentences)} {foreign}" if foreign else None
    elif kind == "swap":
        answer = (_swapped_words(rng.choice(case.sentences), foreign, case.context, rng)
                  if foreign else None)
    else:
        answer = _changed_number(rng.choice(case.sentences), rng)
    if answer is None or answer in case.context:
        return None
    return answer


def label_cases(items: Sequence) -> list[JudgeCase]:
    """One case per distinct context passage of labelled faithfulness items (``LabelledItem``
    of ``ragloop.evals.calibrate``; pass only the train split)."""
    cases: dict[str, JudgeCase] = {}
    for item in items:
        if item.judge != JUDGE or not item.context.strip() or item.context in cases:
            continue
        sentences = sentences_of([item.context])
        if sentences:
            cases[item.context] = JudgeCase(item.id, item.question, item.context, sentences)
    return list(cases.values())


def human_rows(items: Sequence, *, fmt: str = "sft", version: str = "v1") -> Iterator[dict]:
    """Rows whose verdicts are the human labels of faithfulness items (train split only:
    the caller's job, as with golden sets)."""
    for item in items:
        if item.judge != JUDGE or not item.context.strip():
            continue
        yield _row(item.id, question=item.question, answer=item.answer, context=item.context,
                   verdict=item.human, fmt=fmt, version=version)


def _verdict(verdict: str) -> list[dict]:
    return [{"role": "assistant",
             "content": json.dumps({"verdict": verdict, "reason": REASONS[verdict]})}]


def _row(row_id: str, *, question: str, answer: str, context: str, verdict: str, fmt: str,
         version: str) -> dict:
    """One judge row; ``id`` is the example's, so overlap checks see it. DPO rows reject the
    other verdict."""
    passing, failing = get_spec(JUDGE, version).verdicts
    row = {"id": row_id, "prompt": judge_messages(JUDGE, question=question, answer=answer,
                                                  context=context, version=version)}
    if fmt == "sft":
        return {**row, "completion": _verdict(verdict)}
    wrong = failing if verdict == passing else passing
    return {**row, "chosen": _verdict(verdict), "rejected": _verdict(wrong)}


def judge_rows(cases: Sequence[JudgeCase], *, fmt: str = "sft", seed: int = 0,
               version: str = "v1", on_case: Callable[[], None] | None = None
               ) -> Iterator[dict]:
    """A faithful and an unfaithful row per case (when one can be built); ``fmt`` sft (the
    verdict as completion) or dpo (right verdict chosen, wrong one rejected)."""
    passing, failing = get_spec(JUDGE, version).verdicts
    rng = random.Random(seed)
    for n, case in enumerate(cases):
        others = [c for c in rng.sample(cases, min(len(cases), 4)) if c.id != case.id]
        faithful = rng.choice(case.sentences)
        if case.context.startswith("[1]") and rng.random() < 0.5:
            faithful += " [1]"
        kind = UNFAITHFUL_KINDS[n % len(UNFAITHFUL_KINDS)]
        answers = [(faithful, passing), (unfaithful_answer(case, others, kind, rng), failing)]
        for answer, verdict in answers:
            if answer is not None:
                yield _row(case.id, question=case.question, answer=answer,
                           context=case.context, verdict=verdict, fmt=fmt, version=version)
        if on_case:
            on_case()


GENERATED_KINDS = ("paraphrase", "closed-book")
_PARAPHRASE = ("Rewrite this sentence in fewer, simpler words. Keep its meaning.\n\n"
               "Sentence: {sentence}")
_CLOSED_BOOK = "Answer in one sentence: {question}"


@dataclass
class DistillTally:
    """What happened to the generated answers: kept per verdict, left out near the
    threshold, or lost to a failed model call (the batch goes on)."""

    faithful: int = 0
    unfaithful: int = 0
    unsure: int = 0
    empty: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"faithful": self.faithful, "unfaithful": self.unfaithful,
                "unsure": self.unsure, "empty": self.empty, "failed": self.failed}


def generated_answers(llm: LLMClient, case: JudgeCase, rng: random.Random, *,
                      temperature: float = 0.7, seed: int = 0) -> list[tuple[str, str]]:
    """(kind, answer) pairs the model writes for this case: a paraphrase of one of its
    context sentences and a closed-book answer to its question."""
    prompts = {"paraphrase": _PARAPHRASE.format(sentence=rng.choice(case.sentences)),
               "closed-book": _CLOSED_BOOK.format(question=case.question)}
    out = []
    for kind in GENERATED_KINDS:
        text = llm.complete([{"role": "user", "content": prompts[kind]}],
                            temperature=temperature, max_tokens=96, seed=seed,
                            purpose=f"judge-distill-{kind}").text
        out.append((kind, " ".join(text.split())[:MAX_CHARS]))
    return out


def distilled_rows(cases: Sequence[JudgeCase], llm: LLMClient, *, threshold: float,
                   margin: float = 0.5, fmt: str = "sft", seed: int = 0,
                   version: str = "v1", tally: DistillTally | None = None,
                   on_case: Callable[[], None] | None = None) -> Iterator[dict]:
    """Rows over answers the model writes (``generated_answers``), labelled by the
    likelihood judge: gain >= threshold + margin faithful, <= threshold - margin
    unfaithful, between them left out (``tally.unsure``)."""
    passing, failing = get_spec(JUDGE, version).verdicts
    tally = tally if tally is not None else DistillTally()
    rng = random.Random(seed)
    for case in cases:
        try:
            answers = generated_answers(llm, case, rng, seed=seed)
        except ModelError as err:
            tally.failed += 1
            tally.errors.append(f"{case.id}: {err}")
            answers = []
        for _kind, answer in answers:
            try:
                gain = context_gain(llm, question=case.question, answer=answer,
                                    context=case.context) if answer else None
            except ModelError as err:
                tally.failed += 1
                tally.errors.append(f"{case.id}: {err}")
                continue
            if gain is None:
                tally.empty += 1
                continue
            if gain >= threshold + margin:
                verdict, tally.faithful = passing, tally.faithful + 1
            elif gain <= threshold - margin:
                verdict, tally.unfaithful = failing, tally.unfaithful + 1
            else:
                tally.unsure += 1
                continue
            yield _row(case.id, question=case.question, answer=answer, context=case.context,
                       verdict=verdict, fmt=fmt, version=version)
        if on_case:
            on_case()


def training_rows(passes: Sequence[tuple[Sequence[JudgeCase], int]], *, fmt: str = "sft",
                  version: str = "v1", constructed: bool = True,
                  distill_llm: LLMClient | None = None, threshold: float | None = None,
                  margin: float = 0.5, human: Sequence = (), label_repeat: int = 1,
                  tally: DistillTally | None = None,
                  on_case: Callable[[], None] | None = None) -> Iterator[dict]:
    """A judge training file's rows in one order: constructed rows over each ``(cases,
    seed)`` pass, then (with ``distill_llm``) distilled rows over the same passes, then the
    human verdicts ``label_repeat`` times."""
    if distill_llm is not None and threshold is None:
        raise ValueError("distilled rows need the likelihood judge's threshold")
    if constructed:
        for cases, seed in passes:
            yield from judge_rows(cases, fmt=fmt, seed=seed, version=version, on_case=on_case)
    if distill_llm is not None:
        for cases, seed in passes:
            yield from distilled_rows(cases, distill_llm, threshold=threshold, margin=margin,
                                      fmt=fmt, seed=seed, version=version, tally=tally,
                                      on_case=on_case)
    for _ in range(label_repeat):
        yield from human_rows(human, fmt=fmt, version=version)
