"""LLM enrichment of chunks: a situating context sentence ("contextual retrieval") and
hypothetical questions the chunk answers.

Prompts are deterministic (fixed wording, temperature 0, fixed seed, the document cut the
same way every time), so ``LLMClient``'s disk cache makes a re-run cost no model calls. A
model failure loses only that chunk's enrichment and is reported as a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ragloop.errors import ModelError
from ragloop.ingest.chunk import fit_tokens
from ragloop.models.llm import LLMClient
from ragloop.records import Chunk, Document, Question

PROMPT_VERSION = "enrich-v2"  # part of the ingest fingerprint: change it when prompts change
CONTEXT_MAX_TOKENS = 60
QUESTION_MAX_CHARS = 160
_MARGIN_TOKENS = 32

CONTEXT_SYSTEM = ("You situate a passage within its document so that it can be found by "
                  "search. Reply with one or two short sentences and nothing else.")
CONTEXT_USER = ("<document title=\"{title}\">\n{document}\n</document>\n\n"
                "Here is a passage from this document:\n<passage>\n{passage}\n</passage>\n\n"
                "In one or two sentences, say what the passage is about and how it fits in "
                "the document.")
QUESTIONS_SYSTEM = "You write questions that a passage answers."
QUESTIONS_USER = ("Passage from \"{title}\":\n{passage}\n\nWrite {n} different questions that "
                  "this passage answers. Each is one full question ending with '?', in your "
                  "own words. Reply as a JSON object whose \"questions\" list holds the "
                  "questions.")

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LEAD = re.compile(r"^(context|answer|summary)\s*:\s*", re.IGNORECASE)
_WORD = re.compile(r"\w+")


def questions_schema(n: int) -> dict:
    return {"type": "object", "additionalProperties": False, "required": ["questions"],
            "properties": {"questions": {
                "type": "array", "minItems": 1, "maxItems": n,
                "items": {"type": "string", "minLength": 1,
                          "maxLength": QUESTION_MAX_CHARS}}}}


def clean_context(text: str) -> str:
    text = _LEAD.sub("", " ".join(text.split())).strip().strip('"')
    return " ".join(_SENTENCE_END.split(text)[:2]).strip()


def _key(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def filter_questions(candidates: list, chunk_text: str) -> tuple[list[str], dict[str, int]]:
    """Keep real, distinct questions in the model's own words. Returns (kept, dropped by
    reason: empty, not_question, duplicate, copied)."""
    dropped = {"empty": 0, "not_question": 0, "duplicate": 0, "copied": 0}
    kept, seen = [], set()
    chunk_key = _key(chunk_text)
    for raw in candidates:
        text = " ".join(str(raw).split()) if isinstance(raw, str) else ""
        key = _key(text)
        if not key:
            dropped["empty"] += 1
        elif not text.endswith("?") or len(key.split()) < 3:
            dropped["not_question"] += 1
        elif key in seen:
            dropped["duplicate"] += 1
        elif key in chunk_key:
            dropped["copied"] += 1
        else:
            seen.add(key)
            kept.append(text)
    return kept, dropped


@dataclass
class EnrichStats:
    contexts: int = 0
    questions: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class Enricher:
    def __init__(self, llm: LLMClient, *, contextual: bool, questions_per_chunk: int):
        self.llm = llm
        self.contextual = contextual
        self.n_questions = questions_per_chunk
        self.stats = EnrichStats()
        self._doc_cache: tuple[str, int] | None = None  # (doc id, its token count)

    def _document_excerpt(self, document: Document, chunk: Chunk, budget: int) -> str:
        """The whole document if it fits ``budget`` tokens; else its beginning plus the
        text around the chunk, each half the budget."""
        if self._doc_cache is None or self._doc_cache[0] != document.id:
            self._doc_cache = (document.id, self.llm.count_tokens(document.text))
        if self._doc_cache[1] <= budget:
            return document.text
        count = self.llm.count_tokens
        head = fit_tokens(document.text[:budget * 8], budget // 2, count)
        if chunk.end <= len(head):
            return head
        # what leads up to the chunk matters most for situating it; a little after too
        around = document.text[max(len(head), chunk.start - budget * 8):chunk.end + 300]
        tail = fit_tokens(around, budget - budget // 2, count, keep_end=True)
        return f"{head}\n[...]\n{tail}"

    def context(self, document: Document, chunk: Chunk) -> str:
        empty = CONTEXT_USER.format(title=document.title, document="", passage=chunk.text)
        budget = (self.llm.context_window - self.llm.count_tokens(CONTEXT_SYSTEM + empty)
                  - CONTEXT_MAX_TOKENS - _MARGIN_TOKENS)
        excerpt = self._document_excerpt(document, chunk, max(0, budget))
        messages = [{"role": "system", "content": CONTEXT_SYSTEM},
                    {"role": "user", "content": CONTEXT_USER.format(
                        title=document.title, document=excerpt, passage=chunk.text)}]
        try:
            completion = self.llm.complete(messages, temperature=0.0, seed=0,
                                           max_tokens=CONTEXT_MAX_TOKENS)
        except ModelError as err:
            self.stats.warnings.append(f"{chunk.id}: no context ({err})")
            return ""
        context = clean_context(completion.text)
        if context:
            self.stats.contexts += 1
        return context

    def questions(self, document: Document, chunk: Chunk) -> list[Question]:
        messages = [{"role": "system", "content": QUESTIONS_SYSTEM},
                    {"role": "user", "content": QUESTIONS_USER.format(
                        title=document.title, passage=chunk.text, n=self.n_questions)}]
        try:
            completion = self.llm.complete(messages, schema=questions_schema(self.n_questions),
                                           temperature=0.0, seed=0,
                                           max_tokens=48 * self.n_questions + 16)
        except ModelError as err:
            self.stats.warnings.append(f"{chunk.id}: no questions ({err})")
            return []
        kept, dropped = filter_questions(completion.parsed.get("questions", []), chunk.text)
        for reason, n in dropped.items():
            self.stats.dropped[reason] = self.stats.dropped.get(reason, 0) + n
        self.stats.questions += len(kept)
        return [Question(id=f"{chunk.id}#q{i}", chunk_id=chunk.id, doc_id=chunk.doc_id,
                         text=text) for i, text in enumerate(kept)]
