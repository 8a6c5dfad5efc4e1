"""Refine: answer, check with a ``Verifier``, and only if the check fails try again with
the check's finding as feedback. Never refines on the model's own say-so: self-critique
without an outside signal makes answers worse (Huang et al., 2024)."""

from __future__ import annotations

from ragloop.answer.grounded import GroundedStrategy, finish
from ragloop.answer.strategies import STRATEGIES
from ragloop.answer.verify import Verifier, build_verifier

MAX_ROUNDS = 2


@STRATEGIES.register("refine")
class RefineStrategy(GroundedStrategy):
    name = "refine"

    def __init__(self, settings, *, verifier: Verifier | None = None, **parts):
        super().__init__(settings, **parts)
        self.verifier = verifier or build_verifier(settings.verifier)

    def answer(self, request, candidates, tally):
        question = request.question
        text = self.draft(request, candidates, tally, purpose="answer").text
        verdict = self.verifier.check(question, text, candidates, self.llm)
        best = (verdict.score, text)
        history = [{"score": round(verdict.score, 3), "reason": verdict.reason}]
        rounds = 0
        while not verdict.passed and rounds < MAX_ROUNDS:
            if not tally.can_afford(tally.elapsed / len(history), tally.tokens // len(history)):
                break
            rounds += 1
            feedback = (f"Your previous answer was: {text}\nA check found a problem: "
                        f"{verdict.reason}.\nWrite a corrected answer that uses only the "
                        "documents and cites them.")
            text = self.draft(request, candidates, tally, purpose=f"refine-{rounds}",
                              instruction=feedback).text
            verdict = self.verifier.check(question, text, candidates, self.llm)
            history.append({"score": round(verdict.score, 3), "reason": verdict.reason})
            if verdict.score > best[0]:
                best = (verdict.score, text)
        meta = {"verifier": self.verifier.name, "rounds": rounds, "checks": history}
        return finish(question, best[1], candidates, strategy=self.name, tally=tally,
                      confidence=best[0], metadata=meta)
