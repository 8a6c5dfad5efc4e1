"""Chunk results → document results, for evaluating at document level (BEIR qrels are per
document): a document scores as its best chunk ("max") or the sum of its chunks' scores."""

from __future__ import annotations

from collections.abc import Iterable


def to_documents(chunk_scores: Iterable[tuple[str, float]], how: str = "max"
                 ) -> list[tuple[str, float]]:
    """``chunk_scores`` are (doc_id, score) per retrieved chunk; returns docs best first."""
    docs: dict[str, float] = {}
    for doc_id, score in chunk_scores:
        if doc_id not in docs:
            docs[doc_id] = score
        elif how == "sum":
            docs[doc_id] += score
        elif how == "max":
            docs[doc_id] = max(docs[doc_id], score)
        else:
            raise ValueError(f"unknown document aggregation {how!r}")
    return sorted(docs.items(), key=lambda item: -item[1])
