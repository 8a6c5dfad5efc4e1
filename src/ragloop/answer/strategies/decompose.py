"""Decomposition for multi-hop questions: schema-constrained sub-questions, retrieval and a
short answer per sub-question, then one composed answer over all the evidence."""

from __future__ import annotations

from ragloop.answer.citations import strip_markers
from ragloop.answer.grounded import GroundedStrategy, finish, retrieve
from ragloop.answer.history import prompt_extra
from ragloop.answer.prompt import pack_context
from ragloop.answer.strategies import STRATEGIES
from ragloop.errors import SchemaValidationError

MAX_SUBQUESTIONS = 3

SUBQUESTION_SCHEMA = {
    "type": "object",
    "properties": {"sub_questions": {
        "type": "array", "items": {"type": "string", "maxLength": 160},
        "minItems": 1, "maxItems": MAX_SUBQUESTIONS}},
    "required": ["sub_questions"],
}


@STRATEGIES.register("decompose")
class DecomposeStrategy(GroundedStrategy):
    name = "decompose"

    def split(self, question: str) -> list[str]:
        prompt = (f"Question: {question}\n\nBreak this question into at most "
                  f"{MAX_SUBQUESTIONS} simpler questions that together answer it. "
                  'Reply in JSON: {"sub_questions": [...]}')
        try:
            completion = self.llm.complete([{"role": "user", "content": prompt}],
                                      schema=SUBQUESTION_SCHEMA, max_tokens=160,
                                      purpose="decompose")
        except SchemaValidationError:  # counted all the same: the client records every call
            return []
        subs = [s.strip() for s in completion.parsed["sub_questions"] if s.strip()]
        return list(dict.fromkeys(s for s in subs if s.lower() != question.lower()))

    def answer(self, request, candidates, tally):
        question = request.question
        subs = self.split(request.query_text)  # a follow-up splits in its standalone form
        evidence = list(candidates)
        facts: list[dict] = []
        for sub in subs:
            if not tally.can_afford(tally.elapsed / max(1, len(tally.calls)), 0):
                break
            sub_candidates = (retrieve(sub, self.retriever, self.llm, self.settings,
                                       request.filters)
                              if self.retriever is not None else list(candidates))
            if not sub_candidates:
                continue
            draft = self.draft(request, sub_candidates, tally, question=sub, purpose="sub-answer",
                               max_tokens=max(32, self.settings.max_tokens // 2),
                               answer_instruction=False)
            facts.append({"question": sub, "answer": strip_markers(draft.text)})
            seen = {c.chunk.id for c in evidence}
            evidence.extend(c for c in sub_candidates if c.chunk.id not in seen)
        notes = "\n".join(f"- {f['question']} {f['answer']}" for f in facts)
        instruction = f"Partial answers found so far:\n{notes}" if notes else ""
        # Evidence from every sub-question, packed to the window, for the composed answer.
        evidence = pack_context(evidence, self.llm, question=question,
                                max_chunks=self.settings.context_chunks * 2,
                                max_tokens=self.settings.max_tokens,
                                extra_prompt=" ".join(filter(None, (prompt_extra(request),
                                                                    instruction))))
        draft = self.draft(request, evidence, tally, purpose="compose",
                           instruction=instruction)
        meta = {"sub_questions": facts}
        return finish(question, draft.text, evidence, strategy=self.name, tally=tally,
                      metadata=meta)
