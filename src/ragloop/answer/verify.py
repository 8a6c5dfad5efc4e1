"""Verifiers: an outside check of an answer, used by best-of-N to rank samples and by
refine to decide whether (and how) to try again. Self-critique without such a signal tends
to make answers worse, so refine never runs without one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ragloop.answer.citations import extract_citations, is_refusal, strip_markers
from ragloop.answer.prompt import format_context
from ragloop.models.llm import LLMClient
from ragloop.records import Candidate

_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS = (
    "a an the and or but of to in on at for with by from is are was were be been being this "
    "that these those it its as not no yes do does did have has had which who what when where "
    "why how than then there their they them can could would should will may might also into "
    "about over under more most less such")
_STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class Verdict:
    score: float  # 0..1, higher is better supported
    passed: bool
    reason: str  # what failed, phrased so a model can act on it


@runtime_checkable
class Verifier(Protocol):
    name: str

    def check(self, question: str, text: str, candidates: Sequence[Candidate],
              llm: LLMClient) -> Verdict: ...


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2]


def word_support(text: str, evidence: str) -> tuple[float | None, list[str]]:
    """(share of ``text``'s content words found in ``evidence``, the missing words); the
    share is None when ``text`` has no content words. Citation markers are ignored."""
    words = content_words(strip_markers(text))
    if not words:
        return None, []
    support = set(content_words(evidence))
    missing = [w for w in words if w not in support]
    return 1 - len(missing) / len(words), missing


class GroundingVerifier:
    """Programmatic: the answer must cite a valid chunk, and most of its content words must
    appear in the chunks it cites. No model call."""

    name = "grounding"

    def __init__(self, min_overlap: float = 0.6):
        self.min_overlap = min_overlap

    def check(self, question, text, candidates, llm=None) -> Verdict:
        if is_refusal(text):
            return Verdict(0.0, False, "the answer is a refusal")
        citations, invalid = extract_citations(text, candidates)
        if not citations:
            why = f"markers {invalid} point to no document" if invalid else "it cites nothing"
            return Verdict(0.0, False, f"{why}; cite the documents that support it, like [1]")
        cited = " ".join(candidates[c.marker - 1].chunk.text for c in citations)
        score, missing = word_support(text, cited)
        if score is None:  # e.g. "Yes [1]": nothing to check beyond a valid citation
            return Verdict(0.5, True, "")
        if score >= self.min_overlap:
            return Verdict(score, True, "")
        return Verdict(score, False, "these words are not in the cited documents: "
                                     + ", ".join(dict.fromkeys(missing[:8])))


JUDGE_SCHEMA = {"type": "object", "properties": {"score": {"enum": [1, 2, 3, 4, 5]},
                                                 "reason": {"type": "string", "maxLength": 200}},
                "required": ["score", "reason"]}


class LLMJudgeVerifier:
    """An LLM judge scores 1-5 how well the documents support the answer (pass ≥ 4)."""

    name = "llm"

    def check(self, question, text, candidates, llm) -> Verdict:
        prompt = (f"Documents:\n{format_context(candidates)}\n\nQuestion: {question}\n"
                  f"Answer: {text}\n\nIs every claim of the answer supported by the documents? "
                  "Score 1 (not at all) to 5 (fully), with a short reason.")
        completion = llm.complete([{"role": "user", "content": prompt}], schema=JUDGE_SCHEMA,
                                  max_tokens=96, purpose="verify")
        parsed = completion.parsed
        score = (int(parsed["score"]) - 1) / 4
        return Verdict(score, score >= 0.75, str(parsed.get("reason", "")))


VERIFIERS = {cls.name: cls for cls in (GroundingVerifier, LLMJudgeVerifier)}


def build_verifier(name: str) -> Verifier:
    return VERIFIERS[name]()
