"""``[n]`` markers in an answer ↔ the chunks they point to, and refusal detection."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ragloop.answer.prompt import REFUSAL
from ragloop.records import Candidate, Citation

MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# the space a removed marker leaves before punctuation ("oceans [1]." → "oceans .")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;!?])")

# Phrases with which a model says the context does not hold the answer.
_REFUSAL_CUES = (
    "documents do not say", "documents don't say", "do not contain the answer",
    "does not contain the answer", "not mentioned in the documents", "no information",
    "cannot answer", "can't answer", "not enough information", "documents do not mention",
    "the documents do not", "not provided in the documents")


def markers(text: str) -> list[int]:
    """Every cited number, in order of first appearance; ``[1, 3]`` counts as 1 and 3."""
    seen: list[int] = []
    for match in MARKER.finditer(text):
        for part in match.group(1).split(","):
            n = int(part)
            if n not in seen:
                seen.append(n)
    return seen


def strip_markers(text: str) -> str:
    """The text without ``[n]`` markers, and without the space a marker leaves before
    punctuation ("oceans [1]." → "oceans.")."""
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(MARKER.sub("", text).split()))


def with_markers(answer: str, sources: Iterable[int]) -> str:
    """Append ``[n]`` markers the text does not already carry (schema-format answers)."""
    present = set(markers(answer))
    extra = "".join(f"[{n}]" for n in dict.fromkeys(sources) if n not in present)
    answer = answer.strip()
    if not extra:
        return answer
    if answer.endswith((".", "!", "?")):
        return f"{answer[:-1]} {extra}{answer[-1]}"
    return f"{answer} {extra}"


def place(chunk) -> str:
    """Where the chunk is in its source: the page(s), else the slide, sheet or section (set
    at ingest, ``ingest.chunk.place_metadata``; derived here for chunks indexed before)."""
    if chunk.metadata.get("place"):
        return str(chunk.metadata["place"])
    if chunk.page is not None:
        end = chunk.page_end or chunk.page
        return f"p. {chunk.page}" if end == chunk.page else f"pp. {chunk.page}-{end}"
    return " > ".join(chunk.section_path)


def extract_citations(text: str, candidates: Sequence[Candidate]
                      ) -> tuple[tuple[Citation, ...], list[int]]:
    """Citations for the valid markers, and the invalid ones (no such chunk), in order."""
    citations: list[Citation] = []
    invalid: list[int] = []
    for n in markers(text):
        if 1 <= n <= len(candidates):
            chunk = candidates[n - 1].chunk
            citations.append(Citation(
                marker=n, chunk_id=chunk.id, doc_id=chunk.doc_id,
                source=str(chunk.metadata.get("source") or chunk.doc_id),
                title=str(chunk.metadata.get("title") or chunk.header or ""),
                quote=" ".join(chunk.text.split())[:200], place=place(chunk)))
        else:
            invalid.append(n)
    return tuple(citations), invalid


def drop_markers(text: str, invalid: Iterable[int]) -> str:
    """Remove markers that point nowhere, so the reader never sees a dangling ``[9]``."""
    bad = set(invalid)
    if not bad:
        return text

    def keep(match: re.Match) -> str:
        kept = [p.strip() for p in match.group(1).split(",") if int(p) not in bad]
        return f"[{', '.join(kept)}]" if kept else ""

    return _SPACE_BEFORE_PUNCT.sub(r"\1", MARKER.sub(keep, text)).strip()


def is_refusal(text: str) -> bool:
    lowered = " ".join(text.lower().split())
    return lowered.startswith(REFUSAL.lower()[:-1]) or any(c in lowered for c in _REFUSAL_CUES)
