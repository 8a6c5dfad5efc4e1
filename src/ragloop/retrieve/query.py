"""What a retriever accepts as a query: a plain string, or a ``records.SearchQuery`` of
weighted parts (a follow-up with terms carried from earlier turns at a lower weight).

Every signal honours the weights the way its scoring allows, with no change to the stores:

- lexical (BM25): one search per part, scores added times the part's weight. BM25 is a sum
  over query terms, so this is BM25 with the part's terms weighted (a term in two parts
  counts in both); a chunk below a part's top ``k`` gets nothing from that part.
- dense: the parts' unit query vectors mixed by weight and renormalised.
- a reranker reads the parts as one text.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ragloop.index.store import Filters, Store, Target
from ragloop.records import SearchQuery

Query = str | SearchQuery


def query_text(query: Query) -> str:
    return query.text if isinstance(query, SearchQuery) else query


def query_parts(query: Query) -> list[tuple[str, float]]:
    """(text, weight) of every part with text; a plain string is one part of weight 1."""
    if isinstance(query, SearchQuery):
        return [(p.text, p.weight) for p in query.parts if p.text.strip() and p.weight > 0]
    return [(query, 1.0)]


def weighted_lexical(store: Store, query: Query, k: int, filters: Filters | None = None, *,
                     target: Target = "chunks") -> list[tuple[str, float]]:
    """``store.lexical_search`` of a weighted query: (id, score) best first."""
    parts = query_parts(query)
    if len(parts) == 1 and parts[0][1] == 1.0:
        return store.lexical_search(parts[0][0], k, filters, target=target)
    scores: dict[str, float] = {}
    for text, weight in parts:
        for item_id, score in store.lexical_search(text, k, filters, target=target):
            scores[item_id] = scores.get(item_id, 0.0) + weight * score
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:k]


def mixed_vector(query: Query, encode: Callable[[str], np.ndarray]) -> np.ndarray:
    """The query vector of a weighted query: its parts' unit vectors mixed by weight."""
    parts = query_parts(query)
    if len(parts) <= 1:
        return encode(parts[0][0] if parts else query_text(query))
    mixed = sum(weight * _unit(encode(text)) for text, weight in parts)
    return _unit(np.asarray(mixed, dtype=np.float32))


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector
