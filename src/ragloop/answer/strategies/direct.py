"""Direct: one grounded pass. The fast strategy, and the first pass of the router. Its one
draft is the answer, so it streams token by token when asked to (``on_text``)."""

from __future__ import annotations

from ragloop.answer.grounded import GroundedStrategy, finish
from ragloop.answer.strategies import STRATEGIES


@STRATEGIES.register("direct")
class DirectStrategy(GroundedStrategy):
    name = "direct"

    def answer(self, request, candidates, tally):
        draft = self.draft(request, candidates, tally, purpose="answer", stream=True)
        meta = {"schema_error": draft.schema_error} if draft.schema_error else {}
        return finish(request.question, draft.text, candidates, strategy=self.name, tally=tally,
                      metadata=meta)
