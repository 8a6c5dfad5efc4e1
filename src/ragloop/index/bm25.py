"""BM25 (Lucene's variant): pure functions of postings and collection statistics.

Kept apart from any store (as ``bm25s`` keeps ``scoring.py`` apart from its index class), so
the embedded store scores with these functions and the Postgres store's SQL writes the same
formula with the same constants; both must agree to float tolerance (tested).

    idf(t)      = ln(1 + (N - df + 0.5) / (df + 0.5))
    score(d, t) = idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avgdl))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

K1, B = 1.2, 0.75  # Lucene's defaults
DENSE_ROWS = 1 << 18  # up to this many rows, scores accumulate in one dense array


def idf(n_rows: int, df: np.ndarray) -> np.ndarray:
    """Inverse document frequency of each term, from live-row counts."""
    return np.log1p((n_rows - df + 0.5) / (df + 0.5))


def contributions(tf: np.ndarray, doc_len: np.ndarray, weight: np.ndarray,
                  avgdl: float) -> np.ndarray:
    """The score each posting adds to its row: ``weight`` is the idf of the posting's term."""
    norm = K1 * (1 - B + B * doc_len / avgdl)
    return weight * tf * (K1 + 1) / (tf + norm)


def score_postings(postings: Sequence[tuple[np.ndarray, np.ndarray]], term_idf: np.ndarray,
                   doc_len: np.ndarray, avgdl: float,
                   allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BM25 of every row that has at least one query term, over one set of rows.

    ``postings`` holds (rows, tf) per query term, ``term_idf`` their idf, ``doc_len`` the
    length of every row and ``allowed`` a boolean mask of rows that may be returned (live and
    passing the filters). Returns (rows, scores), unordered.
    """
    sizes = [len(rows) for rows, _ in postings]
    if not sum(sizes):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    rows = np.concatenate([r for r, _ in postings])
    tf = np.concatenate([f for _, f in postings])
    contrib = contributions(tf, doc_len[rows], np.repeat(term_idf, sizes), avgdl)
    if len(doc_len) <= DENSE_ROWS:
        scores = np.bincount(rows, weights=contrib, minlength=len(doc_len))
        hit = np.flatnonzero((scores > 0) & allowed)
        return hit, scores[hit]
    # sparse accumulation: no array the size of a big segment per query
    uniq, inverse = np.unique(rows, return_inverse=True)
    scores = np.bincount(inverse, weights=contrib)
    keep = allowed[uniq]
    return uniq[keep], scores[keep]
