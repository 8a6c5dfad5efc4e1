"""Best-of-N: N samples, each checked by a ``Verifier``; the best-scored one is the answer.
Stops early when a sample passes with a perfect score or the budget would be exceeded."""

from __future__ import annotations

from ragloop.answer.grounded import GroundedStrategy, finish
from ragloop.answer.strategies import STRATEGIES
from ragloop.answer.verify import Verifier, build_verifier

DEFAULT_TEMPERATURE = 0.7


@STRATEGIES.register("best_of_n")
class BestOfNStrategy(GroundedStrategy):
    name = "best_of_n"

    def __init__(self, settings, *, verifier: Verifier | None = None, **parts):
        super().__init__(settings, **parts)
        self.verifier = verifier or build_verifier(settings.verifier)

    def answer(self, request, candidates, tally):
        question = request.question
        n = self.settings.samples
        temperature = self.settings.temperature or DEFAULT_TEMPERATURE
        best: tuple[float, str] | None = None
        scores: list[float] = []
        stopped = "all samples"
        for i in range(n):
            if i and not tally.can_afford(tally.elapsed / i, tally.tokens // i):
                stopped = "budget"
                break
            # The first sample is the greedy direct answer (same call, so a cache shares it):
            # the verifier can only move best-of-N away from direct when it finds better.
            draft = self.draft(request, candidates, tally, purpose=f"sample-{i + 1}",
                               temperature=0.0 if i == 0 else temperature,
                               seed=0 if i == 0 else i)
            verdict = self.verifier.check(question, draft.text, candidates, self.llm)
            scores.append(round(verdict.score, 3))
            if best is None or verdict.score > best[0]:
                best = (verdict.score, draft.text)
            if verdict.passed and verdict.score >= 1.0:
                stopped = "early: perfect verdict"
                break
        meta = {"verifier": self.verifier.name, "scores": scores, "stopped": stopped}
        return finish(question, best[1], candidates, strategy=self.name, tally=tally,
                      confidence=best[0], metadata=meta)
