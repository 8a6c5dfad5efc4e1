"""Self-consistency: k samples at temperature > 0 with distinct seeds, a vote on the
normalised answers, agreement as confidence. Sampling stops early once the leader cannot be
overtaken by the samples left, or when the budget would be exceeded.
"""

from __future__ import annotations

from collections import Counter

from ragloop.answer.grounded import GroundedStrategy, finish
from ragloop.answer.normalize import answer_key
from ragloop.answer.strategies import STRATEGIES

DEFAULT_TEMPERATURE = 0.7


def decided(counts: Counter, remaining: int) -> bool:
    """True when no outcome of the remaining samples can change the winner."""
    ranked = counts.most_common(2)
    if not ranked:
        return False
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    return ranked[0][1] > runner_up + remaining


@STRATEGIES.register("vote")
class SelfConsistencyStrategy(GroundedStrategy):
    name = "vote"

    def answer(self, request, candidates, tally):
        k = self.settings.samples
        temperature = self.settings.temperature or DEFAULT_TEMPERATURE
        counts: Counter[str] = Counter()
        first_text: dict[str, str] = {}
        stopped = "all samples"
        for i in range(k):
            if i and not tally.can_afford(tally.elapsed / i, tally.tokens // i):
                stopped = "budget"
                break
            draft = self.draft(request, candidates, tally, purpose=f"vote-{i + 1}",
                               temperature=temperature, seed=i + 1)
            key = answer_key(draft.text)
            counts[key] += 1
            first_text.setdefault(key, draft.text)
            if decided(counts, k - i - 1):
                stopped = "early: vote decided" if i + 1 < k else "all samples"
                break
        taken = sum(counts.values())
        # Ties go to the answer seen first (most_common keeps insertion order among equals).
        winner, votes = counts.most_common(1)[0]
        meta = {"votes": dict(counts), "samples": taken, "samples_max": k, "stopped": stopped}
        return finish(request.question, first_text[winner], candidates, strategy=self.name,
                      tally=tally, confidence=votes / taken, metadata=meta)
