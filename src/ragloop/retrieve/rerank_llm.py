"""LLM reranker: the configured model grades each passage 0-3 for the query.

The answer is schema-constrained (an integer enum), so even the tiny default model always
returns a parseable grade; prompts are short and identical in shape, so they batch and cache
well. With a 135M model the grades are weak — ``bench/beir.py`` measures what they add.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragloop.errors import ConfigError, ModelError
from ragloop.models.llm import LLMClient
from ragloop.retrieve.base import RERANKERS

SCHEMA = {
    "type": "object",
    "properties": {"relevance": {"type": "integer", "enum": [0, 1, 2, 3]}},
    "required": ["relevance"],
}
SYSTEM = ("You grade search results. Given a query and a passage, answer with JSON "
          '{"relevance": N} where N is 0 (unrelated), 1 (same topic), 2 (partly answers) '
          "or 3 (directly answers the query).")
MAX_PASSAGE_CHARS = 1200


class LLMReranker:
    name = "llm"

    def __init__(self, llm: LLMClient, *, max_passage_chars: int = MAX_PASSAGE_CHARS):
        self.llm = llm
        self.max_passage_chars = max_passage_chars
        self.failures = 0

    def score(self, query: str, passages: Sequence[str]) -> list[float | None]:
        scores: list[float | None] = []
        for passage in passages:
            messages = [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Query: {query}\n\nPassage: "
                                            f"{passage[:self.max_passage_chars]}\n\nGrade:"},
            ]
            try:
                completion = self.llm.complete(messages, schema=SCHEMA, max_tokens=12)
                scores.append(float(completion.parsed["relevance"]))
            except (ModelError, KeyError, TypeError):
                self.failures += 1
                scores.append(None)
        return scores


@RERANKERS.register("llm")
def build_llm_reranker(settings, llm: LLMClient | None) -> LLMReranker:
    if llm is None:
        raise ConfigError("[retrieve] rerank = 'llm' needs an LLM", key="retrieve.rerank")
    return LLMReranker(llm)
