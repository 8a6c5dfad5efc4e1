"""Fusion of several ranked lists into one.

- Reciprocal rank fusion: ``sum_r w_r / (k + rank_r)``; ranks only, robust to score scales.
- Convex combination: ``sum_r w_r * norm(score_r)`` with per-list min-max, z-score or
  distribution-based (mean ± 3σ, "dbsf") normalisation. A chunk missing from a list gets
  that list's lowest normalised score, so it is neither rewarded nor dropped.
  A list whose scores cannot be spread (one hit, or all hits scored alike: a rare term
  found in one document) carries no scale of its own; its hits get the best normalised score
  the other lists gave and the chunks it lacks their floor, so a signal's only hit counts
  as much as the best hit of any other signal instead of vanishing into the floor.

Plain RRF of BM25 and a strong dense model can score below the dense model alone, so the
weights and the normalisation matter; ``bench/beir.py`` measures them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ragloop.index.store import Filters
from ragloop.retrieve.hits import Hit, HitRetriever
from ragloop.retrieve.query import Query

FUSED = "fused"


def normalize(scores: np.ndarray, method: str) -> np.ndarray:
    if len(scores) == 0:
        return scores
    if method == "minmax":
        low, high = scores.min(), scores.max()
        return (scores - low) / (high - low) if high > low else np.ones_like(scores)
    mean, std = scores.mean(), scores.std()
    if std == 0:
        return np.ones_like(scores) if method == "dbsf" else np.zeros_like(scores)
    if method == "zscore":
        return (scores - mean) / std
    if method == "dbsf":
        return np.clip((scores - (mean - 3 * std)) / (6 * std), 0.0, 1.0)
    raise ValueError(f"unknown normalization {method!r}")


def _merge(runs: Mapping[str, Sequence[Hit]], fused: dict[str, float]) -> list[Hit]:
    by_id: dict[str, Hit] = {}
    for hits in runs.values():
        for hit in hits:
            merged = by_id.setdefault(hit.chunk_id, Hit(hit.chunk_id, 0.0))
            merged.scores.update(hit.scores)
            merged.ranks.update(hit.ranks)
            merged.matched_question = merged.matched_question or hit.matched_question
    order = sorted(fused, key=lambda cid: (-fused[cid], cid))
    out = []
    for rank, chunk_id in enumerate(order, start=1):
        hit = by_id[chunk_id]
        hit.score = fused[chunk_id]
        hit.scores[FUSED] = hit.score
        hit.ranks[FUSED] = rank
        out.append(hit)
    return out


def rrf(runs: Mapping[str, Sequence[Hit]], *, k: int = 60,
        weights: Mapping[str, float] | None = None) -> list[Hit]:
    fused: dict[str, float] = {}
    for name, hits in runs.items():
        weight = (weights or {}).get(name, 1.0)
        for rank, hit in enumerate(hits, start=1):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + weight / (k + rank)
    return _merge(runs, fused)


def _spread(hits: Sequence[Hit]) -> bool:
    return len(hits) > 1 and min(h.score for h in hits) < max(h.score for h in hits)


def convex(runs: Mapping[str, Sequence[Hit]], *, normalization: str = "minmax",
           weights: Mapping[str, float] | None = None) -> list[Hit]:
    ids = list(dict.fromkeys(hit.chunk_id for hits in runs.values() for hit in hits))
    fused = dict.fromkeys(ids, 0.0)
    present: dict[str, dict[str, float]] = {}
    floors: dict[str, float] = {}
    for name, hits in runs.items():
        if hits and _spread(hits):
            normed = normalize(np.asarray([h.score for h in hits], dtype=np.float64),
                               normalization)
            present[name] = {h.chunk_id: float(v) for h, v in zip(hits, normed, strict=True)}
            floors[name] = float(normed.min())
    # lists without a spread of their own take the extremes of those with one
    top = max((max(p.values()) for p in present.values()), default=1.0)
    bottom = min(floors.values(), default=0.0)
    for name, hits in runs.items():
        if hits and name not in present:
            present[name] = dict.fromkeys((h.chunk_id for h in hits), top)
            floors[name] = bottom
    for name, scores in present.items():
        weight = (weights or {}).get(name, 1.0)
        for chunk_id in ids:
            fused[chunk_id] += weight * scores.get(chunk_id, floors[name])
    return _merge(runs, fused)


class FusionRetriever(HitRetriever):
    """Runs each retriever to ``depth`` candidates and fuses their lists."""

    def __init__(self, retrievers: Sequence[HitRetriever], *, method: str = "convex",
                 depth: int = 100, weights: Mapping[str, float] | None = None,
                 rrf_k: int = 60, normalization: str = "minmax", name: str = FUSED):
        if not retrievers:
            raise ValueError("fusion needs at least one retriever")
        self.retrievers = list(retrievers)
        self.store = self.retrievers[0].store
        self.method = method
        self.depth = depth
        self.weights = dict(weights or {})
        self.rrf_k = rrf_k
        self.normalization = normalization
        self.name = name

    def runs(self, query: Query, filters: Filters | None = None) -> dict[str, list[Hit]]:
        return {r.name: r.hits(query, self.depth, filters) for r in self.retrievers}

    def fuse(self, runs: Mapping[str, Sequence[Hit]]) -> list[Hit]:
        if self.method == "rrf":
            return rrf(runs, k=self.rrf_k, weights=self.weights)
        return convex(runs, normalization=self.normalization, weights=self.weights)

    def hits(self, query: Query, k: int, filters: Filters | None = None) -> list[Hit]:
        return self.fuse(self.runs(query, filters))[:k]
