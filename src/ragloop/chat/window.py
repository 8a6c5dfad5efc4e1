"""The turns the answer prompt carries: the newest whole turns that fit ``[chat]
prompt_tokens`` — the newest turn cut to fit when it alone is longer (a follow-up refers
to it first) — and the summary of dropped turns when room is left."""

from __future__ import annotations

from ragloop.feedback.conversations import TokenCounter, turn_tokens
from ragloop.records import Conversation


def prompt_window(conversation: Conversation, max_tokens: int,
                  count: TokenCounter) -> Conversation:
    """``conversation`` cut to what the answer prompt shows (module doc)."""
    if max_tokens <= 0:
        return conversation.model_copy(update={"turns": (), "summary": ""})
    kept = []
    used = 0
    for turn in reversed(conversation.turns):
        cost = turn_tokens(turn, count)
        if used + cost > max_tokens:
            if not kept:
                kept.append(_cut(turn, max_tokens - count(turn.question), count))
            break
        kept.insert(0, turn)
        used += cost
    summary = conversation.summary
    if summary and (len(kept) < len(conversation.turns)
                    or used + count(summary) > max_tokens):
        summary = ""
    return conversation.model_copy(update={"turns": tuple(kept), "summary": summary})


def _cut(turn, tokens: int, count: TokenCounter):
    """``turn`` with its answer cut to its first words that fit ``tokens``."""
    words = turn.answer.split()
    lo, hi = 0, len(words)
    while lo < hi:  # the longest prefix that fits: counts grow with prefixes
        mid = (lo + hi + 1) // 2
        if count(" ".join(words[:mid])) <= tokens:
            lo = mid
        else:
            hi = mid - 1
    return turn.model_copy(update={"answer": " ".join(words[:lo])})
