"""Grounded prompts: numbered context chunks packed into the model's window, and the two
answer formats a strategy can ask for.

``inline``: free text with ``[n]`` markers, shown by an example in the prompt (streamable).
``json``: a schema-constrained ``{"answer": str, "sources": [int]}`` — the grammar forces
the small model to name its sources, so it cites far more often (see README, Test-time
compute). The markers are then appended to the answer text, so both formats end up as text
with ``[n]`` markers that ``citations.extract_citations`` maps back to chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ragloop.models.llm import LLMClient
from ragloop.records import Candidate, Message

CitationStyle = Literal["inline", "json"]

REFUSAL = "The documents do not say."

SYSTEM = (
    "You answer questions using only the numbered documents given. "
    "Cite the documents you used with their numbers in square brackets, like [1]. "
    f"If the documents do not contain the answer, reply exactly: {REFUSAL}")

INLINE_EXAMPLE = (
    "Example:\n"
    "Documents:\n[1] The Eiffel Tower is in Paris.\n[2] Paris is the capital of France.\n"
    "Question: Which city is the Eiffel Tower in?\n"
    "Answer: The Eiffel Tower is in Paris [1].")

JSON_INSTRUCTION = (
    'Reply in JSON. "answer": your answer in one sentence, using the words of the documents. '
    '"sources": the numbers of the documents that contain the answer.')

# Small models tend to echo the context after answering; these cut that off.
INLINE_STOP = ("\n[", "\nQuestion:", "\nDocuments:")

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "maxLength": 300},
        "sources": {"type": "array", "items": {"type": "integer"}, "maxItems": 5},
    },
    "required": ["answer", "sources"],
}

# Token slack for chat-template wrapping that count_tokens on the raw text does not see.
TEMPLATE_SLACK = 48


def chunk_label(candidate: Candidate) -> str:
    chunk = candidate.chunk
    title = chunk.metadata.get("title") or chunk.header or ""
    return title.strip().splitlines()[0] if title.strip() else ""


def format_chunk(n: int, candidate: Candidate, text: str | None = None) -> str:
    label = chunk_label(candidate)
    body = " ".join((text if text is not None else candidate.chunk.text).split())
    return f"[{n}] ({label}) {body}" if label else f"[{n}] {body}"


def format_context(candidates: Sequence[Candidate]) -> str:
    return "\n".join(format_chunk(i, c) for i, c in enumerate(candidates, start=1))


def pack_context(candidates: Sequence[Candidate], llm: LLMClient, *, question: str,
                 max_chunks: int, max_tokens: int, extra_prompt: str = "") -> list[Candidate]:
    """The best candidates, in rank order, that fit the model's window.

    The window must hold the system prompt, the question, ``extra_prompt`` and ``max_tokens``
    of answer. A chunk that does not fit whole is cut (by tokens, keeping its start) only if it
    is the first one, so there is always some context when any candidate exists.
    """
    fixed = sum(llm.count_tokens(t) for t in (SYSTEM, INLINE_EXAMPLE, question, extra_prompt))
    room = llm.context_window - max_tokens - fixed - TEMPLATE_SLACK
    packed: list[Candidate] = []
    for candidate in list(candidates)[:max_chunks]:
        cost = llm.count_tokens(format_chunk(len(packed) + 1, candidate)) + 1
        if cost <= room:
            packed.append(candidate)
            room -= cost
        elif not packed and room > 32:
            packed.append(_truncate(candidate, llm, room - 8))
            break
        else:
            break
    return packed


def _truncate(candidate: Candidate, llm: LLMClient, tokens: int) -> Candidate:
    words = candidate.chunk.text.split()
    lo, hi = 0, len(words)
    while lo < hi:  # longest word prefix that fits: count_tokens is monotone in prefixes
        mid = (lo + hi + 1) // 2
        if llm.count_tokens(format_chunk(1, candidate, " ".join(words[:mid]))) <= tokens:
            lo = mid
        else:
            hi = mid - 1
    chunk = candidate.chunk.model_copy(update={"text": " ".join(words[:lo])})
    return candidate.model_copy(update={"chunk": chunk})


def answer_messages(question: str, candidates: Sequence[Candidate], *,
                    style: CitationStyle = "json", instruction: str = "",
                    answer_instruction: str = "", history: str = "") -> list[Message]:
    """Chat messages asking for a grounded answer in ``style``.

    ``answer_instruction`` is the caller's (e.g. the label instruction of an eval run); it
    follows the question on its line. ``instruction`` adds strategy-specific guidance
    (think step by step, fix a failed check). ``history`` (``format_history``) comes
    first, so the question it explains is read last, next to the documents."""
    asked = f"{question} {answer_instruction}" if answer_instruction else question
    parts = [f"Documents:\n{format_context(candidates)}", f"Question: {asked}"]
    if history:
        parts.insert(0, history)
    if instruction:
        parts.append(instruction)
    if style == "json":
        parts.append(JSON_INSTRUCTION)
        system = SYSTEM  # with the grammar, an example only gets copied by a small model
    else:
        parts.append("Answer in one or two sentences and cite the documents like [1].")
        system = f"{SYSTEM}\n\n{INLINE_EXAMPLE}"
    return [Message(role="system", content=system),
            Message(role="user", content="\n\n".join(parts))]
