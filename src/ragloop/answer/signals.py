"""Cheap per-query signals the router decides on: question features, retrieval margin and
the fast pass's grounding. Each is a float so thresholds can be fitted from eval runs."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragloop.records import Answer, Candidate

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_ARITHMETIC_CUES = re.compile(
    r"\b(how many|how much|total|sum|difference|altogether|in all|left|remain\w*|each|per|"
    r"times|twice|half|percent|average|more than|less than|fewer)\b", re.IGNORECASE)
_MULTIHOP_CUES = re.compile(
    r"\b(both|compare|compared|difference between|and also|which of|before|after|"
    r"whose|the same|as well as|relationship|respectively|than the)\b", re.IGNORECASE)


def question_signals(question: str) -> dict[str, float]:
    numbers = len(_NUMBER.findall(question))
    arithmetic = min(1.0, (numbers >= 2) * 0.5 + len(_ARITHMETIC_CUES.findall(question)) * 0.5)
    multihop = min(1.0, len(_MULTIHOP_CUES.findall(question)) * 0.5
                   + (question.count("?") > 1) * 0.5)
    return {"length": float(len(question.split())), "arithmetic": arithmetic,
            "multihop": multihop}


def retrieval_signals(candidates: Sequence[Candidate]) -> dict[str, float]:
    scores = [c.score for c in candidates]
    top = scores[0] if scores else 0.0
    margin = top - scores[1] if len(scores) > 1 else top
    return {"top_score": float(top), "margin": float(margin)}


def answer_signals(answer: Answer, grounding: float) -> dict[str, float]:
    return {"grounding": float(grounding), "cited": float(bool(answer.citations)),
            "refused": float(answer.refused),
            "confidence": float(answer.confidence if answer.confidence is not None else -1)}
