"""Metrics checked against values computed by hand (shown in the comments)."""

import math

import pytest

from ragloop.evals.metrics import (
    bootstrap_ci,
    citation_scores,
    cohen_kappa,
    confusion_matrix,
    context_scores,
    exact_match,
    extract_label,
    label_scores,
    paired_bootstrap_ci,
    retrieval_scores,
    token_f1,
)


def test_retrieval_scores_by_hand():
    # gold {a, b}; ranking x, a, c, b
    s = retrieval_scores(["x", "a", "c", "b"], ["a", "b"], ks=(1, 3, 5))
    assert s["hit@1"] == 0.0 and s["hit@3"] == 1.0
    assert s["recall@3"] == 0.5 and s["recall@5"] == 1.0
    assert s["mrr@1"] == 0.0 and s["mrr@3"] == 0.5
    # DCG@5 = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068; IDCG = 1 + 0.63093
    assert s["ndcg@5"] == pytest.approx((0.630930 + 0.430677) / 1.630930, abs=1e-5)
    # nDCG@3: only a (rank 2) counts: 0.63093 / 1.63093
    assert s["ndcg@3"] == pytest.approx(0.630930 / 1.630930, abs=1e-5)


def test_retrieval_dedupes_and_handles_empty():
    # doc-level ids from chunks: a, a, b → a@1, b@2
    s = retrieval_scores(["a", "a", "b"], ["b"], ks=(2,))
    assert s["hit@2"] == 1.0 and s["mrr@2"] == 0.5
    assert retrieval_scores(["a"], []) == {}
    assert retrieval_scores([], ["a"], ks=(5,))["hit@5"] == 0.0


def test_context_scores():
    assert context_scores(["c1", "c2"], ["c2", "c9"]) == {"context_hit": 1.0,
                                                          "context_recall": 0.5}
    assert context_scores(["c1"], ["c9"])["context_hit"] == 0.0


def test_exact_match_and_f1():
    assert exact_match("The Cat!", ["cat"]) == 1.0
    assert exact_match("a dog", ["cat"]) == 0.0
    assert exact_match("The cat [1][2].", ["cat"]) == 1.0  # citation markers ignored
    # pred "the cat sat" → [cat, sat]; ref "cat sat down" → [cat, sat, down]
    # P = 2/2, R = 2/3, F1 = 0.8
    assert token_f1("the cat sat", ["cat sat down"]) == pytest.approx(0.8)
    assert token_f1("cat", ["dog", "cat"]) == 1.0
    assert token_f1("", ["x"]) == 0.0


def test_extract_label():
    labels = ("yes", "no", "maybe")
    assert extract_label("Yes, it does.", labels) == "yes"
    assert extract_label("Maybe; no clear evidence", labels) == "maybe"
    assert extract_label("It is unclear.", labels) is None


def test_label_scores_by_hand():
    gold = ["yes", "yes", "no", "maybe"]
    pred = ["yes", "no", "no", None]
    s = label_scores(gold, pred, labels=("yes", "no", "maybe"))
    assert s["accuracy"] == 0.5
    # yes: P 1/1 R 1/2 F1 2/3; no: P 1/2 R 1/1 F1 2/3; maybe: 0
    assert s["per_label"]["yes"]["f1"] == pytest.approx(2 / 3)
    assert s["per_label"]["no"]["precision"] == 0.5
    assert s["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert s["prediction_distribution"] == {"yes": 1, "no": 2, "none": 1}


def test_citation_scores_by_overlap():
    texts = {1: "Chunks are embedded with MiniLM and stored in SQLite.",
             2: "The weather in Paris is mild."}
    answer = "Chunks are embedded with MiniLM [1]. They are stored in SQLite [2]."
    s = citation_scores(answer, texts)
    # sentence 1 words {chunks, embedded, minilm} all in text 1 → supported
    # sentence 2 words {stored, sqlite} not in text 2 → unsupported
    assert s["citation_precision"] == 0.5
    assert s["citation_recall"] == 0.5
    assert "citation_precision" not in citation_scores("No markers here at all.", texts)
    assert citation_scores("", texts) == {}


def test_kappa_and_confusion_by_hand():
    gold = ["y", "y", "n", "n"]
    pred = ["y", "n", "n", "n"]
    assert confusion_matrix(gold, pred, ["y", "n"]) == [[1, 1], [0, 2]]
    # p_o = 3/4; p_e = (2*1 + 2*3)/16 = 0.5; kappa = 0.25/0.5 = 0.5
    assert cohen_kappa(gold, pred, ["y", "n"]) == pytest.approx(0.5)
    assert cohen_kappa(["y", "y"], ["y", "y"]) == 1.0
    assert math.isnan(cohen_kappa([], []))


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = [0, 1] * 50
    mean, low, high = bootstrap_ci(values, samples=500, seed=1)
    assert mean == 0.5 and low < 0.5 < high and high - low < 0.3
    assert bootstrap_ci(values, samples=500, seed=1) == (mean, low, high)
    delta, dlow, dhigh = paired_bootstrap_ci([0.0] * 20, [1.0] * 20)
    assert (delta, dlow, dhigh) == (1.0, 1.0, 1.0)
