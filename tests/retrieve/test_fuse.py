"""Fusion arithmetic against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ragloop.retrieve.aggregate import to_documents
from ragloop.retrieve.fuse import FUSED, convex, normalize, rrf
from ragloop.retrieve.hits import ranked


def runs():
    return {"bm25": ranked("bm25", [("a", 10.0), ("b", 6.0), ("c", 2.0)]),
            "dense": ranked("dense", [("c", 0.9), ("a", 0.8), ("d", 0.4)])}


def test_rrf_matches_the_formula_and_keeps_each_signal():
    fused = {h.chunk_id: h for h in rrf(runs(), k=60)}
    assert fused["a"].score == pytest.approx(1 / 61 + 1 / 62)
    assert fused["c"].score == pytest.approx(1 / 63 + 1 / 61)
    assert fused["d"].score == pytest.approx(1 / 63)
    assert fused["a"].ranks == {"bm25": 1, "dense": 2, FUSED: 1}
    assert fused["a"].scores["bm25"] == 10.0 and fused["a"].scores["dense"] == 0.8
    assert "dense" not in fused["b"].ranks


def test_rrf_weights():
    fused = {h.chunk_id: h.score for h in rrf(runs(), k=1, weights={"bm25": 0.0})}
    assert fused["b"] == 0.0 and fused["c"] == pytest.approx(1 / 2)


def test_convex_minmax_missing_gets_the_floor():
    fused = {h.chunk_id: h.score for h in convex(runs(), weights={"bm25": 0.6, "dense": 0.4})}
    # bm25 minmax: a=1, b=0.5, c=0 ; dense minmax: c=1, a=0.8, d=0 (missing → 0)
    assert fused["a"] == pytest.approx(0.6 * 1 + 0.4 * 0.8)
    assert fused["b"] == pytest.approx(0.6 * 0.5)
    assert fused["c"] == pytest.approx(0.4 * 1)
    assert fused["d"] == pytest.approx(0.0)
    order = [h.chunk_id for h in convex(runs(), weights={"bm25": 0.6, "dense": 0.4})]
    assert order == ["a", "c", "b", "d"]


def test_normalizations():
    scores = np.array([3.0, 1.0, 2.0])
    assert normalize(scores, "minmax").tolist() == [1.0, 0.0, 0.5]
    z = normalize(scores, "zscore")
    assert z.mean() == pytest.approx(0) and z.std() == pytest.approx(1)
    d = normalize(scores, "dbsf")
    std = scores.std()
    assert d[0] == pytest.approx((3 - (2 - 3 * std)) / (6 * std))
    assert normalize(np.array([5.0, 5.0]), "minmax").tolist() == [1.0, 1.0]
    with pytest.raises(ValueError):
        normalize(scores, "nope")


def test_convex_zscore_floor_is_the_lists_minimum():
    fused = {h.chunk_id: h.score for h in convex(runs(), normalization="zscore")}
    dense_z = normalize(np.array([0.9, 0.8, 0.4]), "zscore")
    bm25_z = normalize(np.array([10.0, 6.0, 2.0]), "zscore")
    assert fused["b"] == pytest.approx(bm25_z[1] + dense_z.min())
    assert math.isfinite(fused["d"])


def test_documents_aggregate_max_or_sum():
    pairs = [("d1", 0.9), ("d2", 0.8), ("d1", 0.5), ("d3", 0.1)]
    assert to_documents(pairs, "max") == [("d1", 0.9), ("d2", 0.8), ("d3", 0.1)]
    assert to_documents(pairs, "sum")[0] == ("d1", pytest.approx(1.4))


@pytest.mark.parametrize("normalization", ["zscore", "minmax", "dbsf"])
def test_a_signals_only_hit_is_not_erased(normalization):
    # one BM25 hit (a rare term), many dense hits; the BM25 hit sits mid-list in dense
    dense = ranked("dense", [(f"d{i:02d}", 0.9 - i * 0.004) for i in range(60)])
    dense.insert(30, ranked("dense", [("t", 0.9 - 30 * 0.004)])[0])
    runs = {"bm25": ranked("bm25", [("t", 7.3)]), "dense": dense}
    fused = convex(runs, normalization=normalization)
    by_id = {h.chunk_id: h.score for h in fused}
    # above the chunk with the same dense score that never matched the term
    assert by_id["t"] > by_id["d30"]
    # as much as the best hit of the other signal: the lone hit leads
    assert fused[0].chunk_id == "t"


@pytest.mark.parametrize("normalization", ["zscore", "minmax", "dbsf"])
def test_a_constant_score_list_keeps_its_hits_above_the_rest(normalization):
    dense = ranked("dense", [(f"d{i}", 0.8 - i * 0.01) for i in range(20)])
    runs = {"bm25": ranked("bm25", [("d15", 2.0), ("d16", 2.0)]), "dense": dense}
    order = [h.chunk_id for h in convex(runs, normalization=normalization)]
    assert order.index("d15") < order.index("d14") and order.index("d16") < order.index("d14")


def test_one_list_alone_keeps_its_order():
    only = {"bm25": ranked("bm25", [("a", 3.0)])}
    assert [h.chunk_id for h in convex(only, normalization="zscore")] == ["a"]
