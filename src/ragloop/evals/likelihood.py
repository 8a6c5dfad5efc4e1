"""The faithfulness judge that reads the model's likelihoods instead of its words.

A model too small to *say* whether a context supports an answer still shows it in what it
expects: a supported answer becomes much more likely once the context is in the prompt,
a fabricated detail does not. The score is the mean per-token gain in log-likelihood of the
answer (citation markers removed) with the context over without it — pointwise mutual
information between answer and context, in nats. One threshold turns it into a verdict; it
is fitted on labelled items (a calibration file's train split) and only then scored on
others, so the agreement reported is held out.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from ragloop.answer.citations import strip_markers
from ragloop.models.llm import LLMClient

LIKELIHOOD_JUDGE = "faithfulness (likelihood)"
GAIN_METRIC = "faithfulness_gain"  # the score, in eval runs
VERDICT_METRIC = "judge_faithfulness_likelihood"  # its verdict at the fitted threshold
_SYSTEM = "You answer questions using only the context given."


def can_score(llm: LLMClient) -> bool:
    """Whether the model's backend gives token log-probabilities (llama.cpp does)."""
    return getattr(llm.backend, "token_logprobs", None) is not None


def context_gain(llm: LLMClient, *, question: str, answer: str, context: str) -> float | None:
    """Mean per-token log-likelihood gain of ``answer`` from ``context`` (None: no text)."""
    answer = strip_markers(answer).strip()
    if not answer:
        return None
    system = {"role": "system", "content": _SYSTEM}
    given = llm.token_logprobs(
        [system, {"role": "user", "content": f"Context:\n{context.strip()}\n\n"
                                             f"Question: {question.strip()}"}],
        answer, purpose="judge-likelihood")
    bare = llm.token_logprobs(
        [system, {"role": "user", "content": f"Question: {question.strip()}"}],
        answer, purpose="judge-likelihood")
    if not given:  # nothing the tokenizer kept
        return None
    return sum(g - b for g, b in zip(given, bare, strict=True)) / len(given)


def fit_threshold(scores: Sequence[float], passed: Sequence[bool]) -> float:
    """The cut (score >= cut passes) that classifies the most items right, midway between
    neighbouring scores; the lowest such cut on ties."""
    if not scores:
        raise ValueError("no scores to fit a threshold on")
    ordered = sorted(set(scores))
    cuts = [ordered[0] - 1.0, *((a + b) / 2 for a, b in pairwise(ordered)), ordered[-1] + 1.0]
    return max(cuts, key=lambda cut: (sum((s >= cut) == p for s, p in
                                          zip(scores, passed, strict=True)), -cut))
