"""Citation precision and recall by *entailment-by-overlap* (no model call).

A citation supports the sentence it is attached to when at least ``threshold`` of the
sentence's content words (stop words and the ``[n]`` markers removed) occur in the cited
chunk's text. Precision: supported citations / citations. Recall: answer sentences with at
least one supporting citation / answer sentences with content. This is a cheap, deterministic
proxy; judge-based faithfulness is scored separately.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ragloop.evals.metrics.answer import normalize

STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "do", "does", "for",
    "from", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "of", "on", "or",
    "so", "than", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
    "were", "what", "when", "where", "which", "while", "who", "why", "will", "with", "you",
    "your", "not", "no", "yes",
))
_MARKER = re.compile(r"\[(\d+)\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def content_words(text: str) -> set[str]:
    return {w for w in normalize(_MARKER.sub(" ", text)).split() if w not in STOP_WORDS}


def overlap_support(sentence: str, chunk_text: str, threshold: float = 0.5) -> bool:
    words = content_words(sentence)
    if not words:
        return False
    return len(words & content_words(chunk_text)) / len(words) >= threshold


def citation_scores(answer_text: str, marker_to_text: Mapping[int, str],
                    threshold: float = 0.5) -> dict[str, float]:
    """``marker_to_text``: the chunk text behind each ``[n]`` the answer may cite.

    Returns {} for an answer with no content sentences (nothing to score)."""
    sentences = [s for s in _SENTENCE.split(answer_text) if content_words(s)]
    if not sentences:
        return {}
    cited = supported = sentences_supported = 0
    for sentence in sentences:
        markers = [int(m) for m in _MARKER.findall(sentence)]
        hits = [overlap_support(sentence, marker_to_text[m], threshold)
                for m in markers if m in marker_to_text]
        # a marker pointing at nothing is a citation that cannot support anything
        cited += len(markers)
        supported += sum(hits)
        sentences_supported += any(hits)
    scores = {"citation_recall": sentences_supported / len(sentences)}
    if cited:
        scores["citation_precision"] = supported / cited
    return scores


def markers_of(citations: Sequence, chunk_texts: Mapping[str, str]) -> dict[int, str]:
    """Map each ``Citation.marker`` to the text of its chunk (from the answer's candidates)."""
    return {c.marker: chunk_texts[c.chunk_id] for c in citations if c.chunk_id in chunk_texts}
