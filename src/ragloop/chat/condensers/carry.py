"""``carry``: a follow-up searched with the salient terms of the turns before it, at a lower
weight, and no model call.

The query is a ``SearchQuery`` of two parts: the follow-up as written (weight 1) and the
carried terms (``[chat] carry_weight``), which BM25 and dense search both honour
(``ragloop.retrieve.query``). Terms come from the last ``[chat] recent_turns`` turns and the
summary of dropped ones; a term the follow-up already has is not carried. Each term's
salience is

    where it was said (question 1, answer 0.5, summary 0.25) × 0.5 ** turns ago
      × its best single-term BM25 score in the index

The BM25 score is the term's idf times how strongly it marks its best chunk, read from the
store the query will run on: topic words ("reranker", "tides") win over common ones, and a
word the index lacks carries nothing. The ``carry_terms`` most salient are carried, in the
word forms a reader (and the embedder) sees.
"""

from __future__ import annotations

from ragloop.answer.citations import strip_markers
from ragloop.chat.condensers import CONDENSERS, Condensed, recent
from ragloop.index.analyze import analyze, analyze_words
from ragloop.records import Conversation, QueryPart, SearchQuery

QUESTION, ANSWER, SUMMARY = 1.0, 0.5, 0.25
RECENCY = 0.5


@CONDENSERS.register("carry")
class CarryCondenser:
    name = "carry"

    def __init__(self, settings, *, llm=None, store=None):
        self.settings = settings
        self.store = store

    def candidates(self, question: str, conversation: Conversation) -> dict[str, tuple[float, str]]:
        """term → (weight by where and when it was said, the word first seen for it)."""
        own = set(analyze(question))
        found: dict[str, tuple[float, str]] = {}

        def add(text: str, weight: float) -> None:
            for word, term in analyze_words(text):
                if term in own:
                    continue
                held = found.get(term)
                if held is None or weight > held[0]:
                    found[term] = (weight, held[1] if held else word)

        turns = recent(conversation, self.settings.recent_turns)
        for age, turn in enumerate(reversed(turns)):
            add(turn.question, QUESTION * RECENCY ** age)
            add(strip_markers(turn.answer), ANSWER * RECENCY ** age)
        if conversation.summary:
            add(conversation.summary, SUMMARY * RECENCY ** len(turns))
        return found

    def salience(self, word: str) -> float:
        """The word's best single-term BM25 score in the index (0: not indexed)."""
        if self.store is None:
            return 1.0
        best = self.store.lexical_search(word, 1)
        return best[0][1] if best else 0.0

    def condense(self, question: str, conversation: Conversation) -> Condensed:
        scored = []
        for term, (weight, word) in self.candidates(question, conversation).items():
            score = weight * self.salience(word)
            if score > 0:
                scored.append((score, term, word))
        scored.sort(key=lambda item: (-item[0], item[1]))
        carried = tuple(word for _, _, word in scored[:self.settings.carry_terms])
        if not carried:
            return Condensed(question, self.name)
        query = SearchQuery(parts=(QueryPart(text=question, weight=1.0),
                                   QueryPart(text=" ".join(carried),
                                             weight=self.settings.carry_weight)))
        return Condensed(query, self.name, carried=carried)
