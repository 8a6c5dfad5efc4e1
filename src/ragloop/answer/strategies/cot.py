"""Chain of thought: reason step by step, then a final answer that is extracted.

In ``json`` style the grammar makes the model write ``reasoning`` before ``answer``; in
``inline`` style the final answer is the text after the last ``Answer:`` line.
"""

from __future__ import annotations

import re

from ragloop.answer.grounded import GroundedStrategy, finish
from ragloop.answer.strategies import STRATEGIES

INSTRUCTION = ("Think step by step: first write your reasoning, then the final answer. "
               "In inline text, end with a line 'Answer: <final answer with citations>'.")

COT_SCHEMA = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string", "maxLength": 600},
        "answer": {"type": "string", "maxLength": 300},
        "sources": {"type": "array", "items": {"type": "integer"}, "maxItems": 5},
    },
    "required": ["reasoning", "answer", "sources"],
}

_FINAL = re.compile(r"(?:final answer|answer)\s*[:：]\s*(.+)", re.IGNORECASE | re.DOTALL)


def extract_final(text: str) -> tuple[str, str]:
    """(reasoning, final answer) from free text; the whole text when no ``Answer:`` line."""
    matches = list(_FINAL.finditer(text))
    if not matches:
        return "", text.strip()
    last = matches[-1]
    return text[:last.start()].strip(), last.group(1).strip().split("\n")[0].strip()


@STRATEGIES.register("cot")
class ChainOfThoughtStrategy(GroundedStrategy):
    name = "cot"

    def answer(self, request, candidates, tally, *, temperature=None, seed=0, purpose="cot"):
        draft = self.draft(request, candidates, tally, purpose=purpose,
                           instruction=INSTRUCTION, schema=COT_SCHEMA, temperature=temperature,
                           seed=seed, max_tokens=self.settings.max_tokens * 2)
        if self.style == "json":
            reasoning, final = draft.reasoning, draft.text
        else:
            reasoning, final = extract_final(draft.text)
        meta = {"reasoning": reasoning}
        if draft.schema_error:
            meta["schema_error"] = draft.schema_error
        return finish(request.question, final, candidates, strategy=self.name, tally=tally,
                      metadata=meta)
