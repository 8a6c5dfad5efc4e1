"""Grounded-answer distillation (retrieval-augmented fine-tuning, RAFT): training rows that
teach the model to answer from its retrieved chunks with valid citations, and to refuse
when the chunks do not hold the answer.

Per question, the prompt is the one the pipeline builds at answer time
(``train.prompts.grounded_prompt``: the project's retrieval packed into the window,
distractors kept). The target is the teacher's answer:

- ``extract``: the supporting sentences of the retrieved chunks, verbatim, each with its
  ``[n]`` (``answer.strategies.extract``, no model call);
- ``model``: a configured stronger model's answer to the same prompt (``[train.teacher]``);

rewritten to its best sentences (one in ``json`` citation style, whose prompt asks for one
sentence and whose markers all land on the last sentence; two in ``inline``) within
``MAX_ANSWER_CHARS`` characters, and accepted only when every check passes on the text as
the pipeline will show it: not a refusal, citations valid, the grounding check
(``answer.verify.GroundingVerifier``), every sentence supported by a chunk it cites
(``evals.metrics.citations``: precision and recall 1), and, when the example names its
gold documents or chunks, a citation of one of them.

The chunks come in a seeded random order (``shuffle``): the pipeline ranks the supporting
chunk first so often that a model trained on rank order learns to copy document [1]. For
the same reason answers quoting the opening sentence of their chunk are capped at
``opening_share`` of the answer rows (a seeded sample is kept): in abstracts the opening
sentence restates the title, and a model trained on them learns to copy openings.

A share of the questions (``refusal_share``, seeded) gets a context without its answer
instead: the same retrieval with the gold documents left out (where no gold is known:
another question's context), packed the same way, with the refusal as target, kept only
when the words of the question's accepted answer (else its reference answer) are not
supported by that context. Labels are not used: the target is a cited answer.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ragloop.answer.citations import extract_citations, is_refusal, strip_markers, with_markers
from ragloop.answer.citations import markers as markers_in
from ragloop.answer.grounded import Tally, generate
from ragloop.answer.prompt import REFUSAL, answer_messages, pack_context
from ragloop.answer.strategies.extract import split_sentences
from ragloop.answer.verify import GroundingVerifier, word_support
from ragloop.evals.metrics.citations import citation_scores
from ragloop.records import AnswerRequest, Candidate, EvalExample
from ragloop.train.prompts import answer_content, grounded_prompt

TEACHERS = ("extract", "model")
MAX_SENTENCES = {"json": 1, "inline": 2}
MAX_ANSWER_CHARS = 280  # the JSON answer schema allows 300
# a context "holds" an answer when this share of its content words is found there
HOLDS_ANSWER = 0.6


@dataclass
class GroundedReport:
    questions: int = 0
    teacher: str = "extract"
    refusal_share: float = 0.0
    rows: list[dict] = field(default_factory=list)
    answers: int = 0
    refusals: int = 0
    rejected_because: Counter = field(default_factory=Counter)
    answer_words: list[int] = field(default_factory=list)
    openings: int = 0  # answer rows quoting the opening sentence of their chunk
    cited_markers: Counter = field(default_factory=Counter)
    teacher_calls: int = 0
    seconds: float = 0.0

    def summary(self) -> dict:
        words = sorted(self.answer_words)
        return {"questions": self.questions, "teacher": self.teacher,
                "refusal_share": self.refusal_share, "rows": len(self.rows),
                "answer_rows": self.answers, "refusal_rows": self.refusals,
                "rejected_because": dict(self.rejected_because),
                "answer_words": {"min": words[0], "median": words[len(words) // 2],
                                 "max": words[-1]} if words else {},
                "opening_sentence_answers": self.openings,
                "cited_markers": dict(sorted(self.cited_markers.items())),
                "teacher_calls": self.teacher_calls, "seconds": self.seconds,
                "s_per_question": self.seconds / max(1, self.questions)}


def rewrite(text: str, style: str = "json") -> str:
    """The first ``MAX_SENTENCES[style]`` sentences of ``text`` (markers kept on theirs),
    fewer when they run past ``MAX_ANSWER_CHARS``."""
    pieces = [text[a:b].strip() for a, b in split_sentences(text.strip())]
    kept: list[str] = []
    for piece in pieces[:MAX_SENTENCES[style]]:
        if kept and len(" ".join([*kept, piece])) > MAX_ANSWER_CHARS:
            break
        kept.append(piece)
    return " ".join(kept)


def shown(text: str, style: str) -> str:
    """``text`` as the pipeline shows an answer of this citation style: in ``json`` the
    model writes the bare answer and its sources, and the markers are appended to it."""
    if style != "json":
        return text
    return with_markers(strip_markers(text), markers_in(text))


def answer_rejection(text: str, candidates: Sequence[Candidate], example: EvalExample,
                     verifier: GroundingVerifier, style: str = "inline") -> str | None:
    """Why ``text`` (with ``[n]`` markers) is no target for this prompt, or None; checked
    as the pipeline shows it (``shown``)."""
    text = shown(text, style)
    if not text.strip() or is_refusal(text):
        return "refusal"
    if len(text) > MAX_ANSWER_CHARS + 20:  # markers may add a few characters
        return "too long"
    citations, invalid = extract_citations(text, candidates)
    if invalid or not citations:
        return "citations"
    if not verifier.check("", text, candidates).passed:
        return "grounding"
    scores = citation_scores(text, {n: c.chunk.text for n, c in enumerate(candidates, 1)})
    if scores.get("citation_precision", 0.0) < 1.0 or scores.get("citation_recall", 0.0) < 1.0:
        return "unsupported sentence"
    gold = set(example.gold_doc_ids) | set(example.gold_chunk_ids)
    if gold and not any(c.doc_id in gold or c.chunk_id in gold for c in citations):
        return "cites no gold document"
    return None


def teacher_answer(pipeline, example: EvalExample, candidates: Sequence[Candidate], *,
                   teacher: str, teacher_llm=None) -> str:
    """The teacher's answer to the grounded prompt, with ``[n]`` markers."""
    if teacher == "extract":
        extract = pipeline.answerer.strategy("extract")
        answer = extract.answer(AnswerRequest(question=example.question), candidates, Tally())
        if answer.refused:
            return ""
        # best sentence first: a one-sentence target keeps the one the teacher rated highest
        picked = sorted(answer.metadata.get("sentences", []), key=lambda p: -p["score"])
        by_id = {c.chunk.id: c for c in candidates}
        if not picked or any(p["chunk_id"] not in by_id for p in picked):
            return answer.text
        return " ".join(with_markers(" ".join(
            by_id[p["chunk_id"]].chunk.text[p["start"]:p["end"]].split()), [p["marker"]])
            for p in picked)
    settings = pipeline.settings.answer
    draft = generate(example.question, candidates, teacher_llm, style=settings.citation_style,
                     purpose="teacher", max_tokens=settings.max_tokens)
    return "" if draft.schema_error else draft.text


def without_answer(pipeline, example: EvalExample, others: Sequence[EvalExample],
                   rng: random.Random) -> list[Candidate]:
    """A context for ``example`` that leaves its gold documents out: its own retrieval
    (deeper, so the window stays full) without them, or, with no gold known, the retrieval
    of another question; packed as the pipeline packs any context."""
    settings = pipeline.settings.answer
    gold = set(example.gold_doc_ids) | set(example.gold_chunk_ids)
    if gold:
        found = [c for c in pipeline.retriever.search(example.question,
                                                      settings.context_chunks * 3)
                 if c.chunk.doc_id not in gold and c.chunk.id not in gold]
    elif others:
        found = pipeline.retriever.search(rng.choice(others).question, settings.context_chunks)
    else:
        return []
    return pack_context(found, pipeline.llm, question=example.question,
                        max_chunks=settings.context_chunks, max_tokens=settings.max_tokens)


def _assistant(text: str, sources: Sequence[int], style: str) -> list[dict]:
    return [{"role": "assistant", "content": answer_content(text, sources, style)}]


def grounded_rows(pipeline, examples: Sequence[EvalExample], *, teacher: str = "extract",
                  teacher_llm=None, refusal_share: float = 0.2, shuffle: bool = True,
                  opening_share: float = 0.5, seed: int = 0,
                  on_example: Callable[[], None] | None = None) -> GroundedReport:
    """SFT rows (``{"id", "prompt", "completion"}``) for ``examples``; see the module doc."""
    if teacher not in TEACHERS:
        raise ValueError(f"teacher must be one of {', '.join(TEACHERS)}, got {teacher!r}")
    if teacher == "model" and teacher_llm is None:
        raise ValueError("teacher 'model' needs a teacher LLM ([train.teacher])")
    if not 0 <= refusal_share < 1:
        raise ValueError(f"refusal_share must be in [0, 1), got {refusal_share}")
    style = pipeline.settings.answer.citation_style
    verifier = GroundingVerifier()
    rng = random.Random(seed)
    ids = sorted({e.id for e in examples})
    refuse = set(rng.sample(ids, round(refusal_share * len(ids))))
    report = GroundedReport(teacher=teacher, refusal_share=refusal_share)
    answers: list[tuple[dict, bool, int]] = []
    started = time.perf_counter()
    for example in examples:
        report.questions += 1
        prompt, candidates = grounded_prompt(pipeline, example.question)
        if shuffle and len(candidates) > 1:
            candidates = rng.sample(candidates, len(candidates))
            prompt = _prompt(pipeline, example.question, candidates)
        text = rewrite(teacher_answer(pipeline, example, candidates, teacher=teacher,
                                      teacher_llm=teacher_llm), style) if candidates else ""
        report.teacher_calls += teacher == "model" and bool(candidates)
        why = answer_rejection(text, candidates, example, verifier, style)
        if example.id in refuse:
            reference = text if why is None else next(iter(example.reference_answers), "")
            row, reason = _refusal_row(pipeline, example, examples, reference, rng, style)
            if row is None:
                report.rejected_because[f"refusal: {reason}"] += 1
            else:
                report.rows.append(row)
                report.refusals += 1
        elif why is not None:
            report.rejected_because[why] += 1
        else:
            citations, _ = extract_citations(text, candidates)
            markers = sorted({c.marker for c in citations})
            bare = strip_markers(text) if style == "json" else text
            answers.append(({"id": example.id, "prompt": prompt,
                             "completion": _assistant(bare, markers if style == "json"
                                                      else [], style)},
                            opens_chunk(text, candidates), len(strip_markers(text).split())))
        if on_example:
            on_example()
    kept = _cap_openings(answers, opening_share, rng)
    if len(kept) < len(answers):
        report.rejected_because["opening sentence over its share"] += len(answers) - len(kept)
    for row, opens, words in kept:
        report.rows.append(row)
        report.answers += 1
        report.openings += opens
        report.answer_words.append(words)
        report.cited_markers.update(json_sources(row, style))
    rng.shuffle(report.rows)
    report.seconds = time.perf_counter() - started
    return report


def build_teacher(pipeline):
    """The ``[train.teacher]`` model's client (cached and accounted like the answer model)."""
    from ragloop.errors import ConfigError
    from ragloop.models.factory import build_llm

    settings = pipeline.settings.train.teacher
    if settings is None:
        raise ConfigError("the model teacher needs a [train.teacher] table (same keys as "
                          "[llm]): the stronger model whose answers become the targets")
    return build_llm(settings, pipeline.cache_dir, use_cache=pipeline.use_cache,
                     models_dir=pipeline.models_dir)


def _prompt(pipeline, question: str, candidates: Sequence[Candidate]) -> list[dict]:
    settings = pipeline.settings.answer
    return [m.model_dump() for m in answer_messages(question, candidates,
                                                    style=settings.citation_style)]


def opens_chunk(text: str, candidates: Sequence[Candidate]) -> bool:
    """Whether the answer's first sentence is the opening sentence of the chunk it cites."""
    citations, _ = extract_citations(text, candidates)
    if not citations:
        return False
    first = strip_markers(first_sentence(text))
    chunk = " ".join(candidates[citations[0].marker - 1].chunk.text.split())
    return chunk.startswith(first[:60])


def first_sentence(text: str) -> str:
    spans = split_sentences(text.strip())
    return text[spans[0][0]:spans[0][1]] if spans else text


def _cap_openings(answers: list, share: float, rng: random.Random) -> list:
    """At most ``share`` of the answer rows quote the opening sentence of their chunk (a
    seeded sample of those), the rest kept whole, in their order."""
    opening = [i for i, (_, opens, _) in enumerate(answers) if opens]
    others = len(answers) - len(opening)
    limit = len(opening) if share >= 1 else min(len(opening),
                                                 int(share * others / (1 - share)))
    dropped = set(rng.sample(opening, len(opening) - limit))
    return [a for i, a in enumerate(answers) if i not in dropped]


def json_sources(row: dict, style: str) -> list[int]:
    import json

    content = row["completion"][0]["content"]
    if style == "json":
        return list(json.loads(content).get("sources", []))
    return markers_in(content)


def _refusal_row(pipeline, example: EvalExample, examples: Sequence[EvalExample],
                 reference: str, rng: random.Random, style: str
                 ) -> tuple[dict | None, str]:
    if not reference.strip():
        return None, "no answer to check the context against"
    others = [e for e in examples if e.id != example.id]
    candidates = without_answer(pipeline, example, others, rng)
    if not candidates:
        return None, "no other context"
    share, _ = word_support(reference, " ".join(c.chunk.text for c in candidates))
    if share is not None and share >= HOLDS_ANSWER:
        return None, "the context still holds the answer"
    return {"id": example.id, "prompt": _prompt(pipeline, example.question, candidates),
            "completion": _assistant(REFUSAL, [], style)}, ""
