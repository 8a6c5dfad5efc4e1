"""Synthetic golden sets: question/answer pairs written by the LLM from chunks in the index.

Each sampled chunk gets one schema-constrained call (``{"question", "answer"}``). A pair is
kept only when it passes every filter, and each rejection is counted by reason:

- ``ungrounded``: the answer's content words are not mostly in the chunk (≥ 60%), or the
  question shares too little with the chunk (< 30%) — i.e. not answerable from it;
- ``verbatim``: the question copies a run of 8+ consecutive words from the chunk;
- ``duplicate``: the question's word set overlaps an accepted question's by ≥ 80% (Jaccard);
- ``malformed``: too short, or the model's output did not parse.

Every kept example records its source: ``gold_chunk_ids`` and ``gold_doc_ids``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ragloop.errors import ModelError
from ragloop.evals.metrics.answer import normalize
from ragloop.evals.metrics.citations import content_words
from ragloop.records import Chunk, EvalExample

SCHEMA = {"type": "object",
          "properties": {"question": {"type": "string", "minLength": 10, "maxLength": 200},
                         "answer": {"type": "string", "minLength": 1, "maxLength": 200}},
          "required": ["question", "answer"], "additionalProperties": False}
SYSTEM = ("You write quiz questions about a passage. Reply only with JSON: "
          '{"question": ..., "answer": ...}.')
PROMPT = ("Passage:\n{text}\n\nWrite one question that this passage answers, in your own "
          "words, and its short answer taken from the passage.")
MIN_CHUNK_WORDS = 25
VERBATIM_RUN = 8


def chunk_ids_of(store) -> list[str]:
    """Every chunk id in the store. Uses ``store.chunk_ids()`` when the store has it, else the
    ingest convention ``<doc_id>#<ordinal>`` with each document's chunk count."""
    if hasattr(store, "chunk_ids"):
        return list(store.chunk_ids())
    return [f"{entry.doc_id}#{i}" for entry in store.documents() for i in range(entry.n_chunks)]


def sample_chunks(store, n: int, seed: int, batch: int = 64) -> Iterator[Chunk]:
    """Chunks in a seeded random order, fetched in batches (ids only are held in memory)."""
    ids = chunk_ids_of(store)
    random.Random(seed).shuffle(ids)
    for start in range(0, min(len(ids), n), batch):
        yield from store.get_chunks(ids[start:min(start + batch, n)])


def _coverage(words: set[str], reference: set[str]) -> float:
    return len(words & reference) / len(words) if words else 0.0


def copies_verbatim(question: str, chunk_text: str, run: int = VERBATIM_RUN) -> bool:
    words = normalize(question).split()
    text = f" {normalize(chunk_text)} "
    return any(f" {' '.join(words[i:i + run])} " in text for i in range(len(words) - run + 1))


def rejection(question: str, answer: str, chunk: Chunk, accepted: list[set[str]]) -> str | None:
    """Why this pair is rejected, or None to keep it."""
    q_words, a_words = content_words(question), content_words(answer)
    if len(normalize(question).split()) < 4 or not a_words:
        return "malformed"
    chunk_words = content_words(chunk.text)
    if _coverage(a_words, chunk_words) < 0.6 or _coverage(q_words, chunk_words) < 0.3:
        return "ungrounded"
    if copies_verbatim(question, chunk.text):
        return "verbatim"
    if any(len(q_words & seen) / len(q_words | seen) >= 0.8 for seen in accepted):
        return "duplicate"
    return None


@dataclass
class SynthReport:
    examples: list[EvalExample] = field(default_factory=list)
    attempts: int = 0
    rejected: Counter = field(default_factory=Counter)


def synthesize(store, llm, n: int, *, seed: int = 0, max_attempts: int | None = None,
               temperature: float = 0.3, on_attempt: Callable[[int, int], None] | None = None
               ) -> SynthReport:
    """Up to ``n`` filtered examples from at most ``max_attempts`` (default 4n) chunks."""
    report = SynthReport()
    accepted: list[set[str]] = []
    limit = max_attempts or 4 * n
    for chunk in sample_chunks(store, limit, seed):
        if len(report.examples) >= n:
            break
        if len(chunk.text.split()) < MIN_CHUNK_WORDS:
            report.rejected["short-chunk"] += 1
            continue
        report.attempts += 1
        try:
            out = llm.complete([{"role": "system", "content": SYSTEM},
                                {"role": "user", "content": PROMPT.format(text=chunk.text)}],
                               schema=SCHEMA, temperature=temperature, max_tokens=160,
                               seed=seed + report.attempts)
            question, answer = out.parsed["question"].strip(), out.parsed["answer"].strip()
        except ModelError:
            report.rejected["malformed"] += 1
            continue
        reason = rejection(question, answer, chunk, accepted)
        if reason:
            report.rejected[reason] += 1
        else:
            accepted.append(content_words(question))
            report.examples.append(EvalExample(
                id=f"synth-{len(report.examples) + 1:04d}", question=question,
                reference_answers=(answer,), gold_chunk_ids=(chunk.id,),
                gold_doc_ids=(chunk.doc_id,), tags=("synthetic",),
                metadata={"model": out.model, "seed": seed}))
        if on_attempt:
            on_attempt(len(report.examples), report.attempts)
    return report
