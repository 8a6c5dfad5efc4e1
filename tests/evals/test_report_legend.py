"""The run report explains itself (issue 15 item 6): a meaning per metric, identical
aggregates on one row, a score and file names on every collapsed example."""

from __future__ import annotations

from ragloop.evals.report import legend


def test_every_metric_the_runner_writes_has_a_meaning():
    names = ["hit@1", "recall@5", "mrr@10", "ndcg@5", "context_hit", "context_recall",
             "exact_match", "token_f1", "label_accuracy", "citation_recall",
             "citation_precision", "refused", "judge_correctness", "judge_faithfulness",
             "judge_relevancy"]
    assert all(legend.meaning(n) for n in names)
    assert "top 5" in legend.meaning("recall@5")


def test_identical_aggregates_share_a_row():
    same = {"mean": 0.5, "low": 0.2, "high": 0.8, "n": 10}
    metrics = {"hit@1": same, "recall@1": dict(same), "mrr@1": dict(same),
               "hit@5": {"mean": 0.9, "low": 0.7, "high": 1.0, "n": 10}}
    assert legend.merged_rows(metrics, ["hit@1", "hit@5", "mrr@1", "recall@1"]) == [
        ["hit@1", "mrr@1", "recall@1"], ["hit@5"]]


def test_headline_score_of_an_example():
    assert legend.headline({"token_f1": 0.25, "hit@1": 1.0}) == ("token_f1", 0.25)
    assert legend.headline({"judge_correctness": 0.0, "token_f1": 0.9}) == (
        "judge_correctness", 0.0)
    assert legend.headline({"hit@1": 1.0}) is None
    assert legend.best_retrieval({"hit@1": 0.0, "hit@10": 1.0, "hit@5": 1.0}) == ("hit@10", 1.0)


def test_summary_and_document_names():
    assert legend.summary_scores({"token_f1": 0.5, "hit@1": 0.0, "hit@5": 1.0}) == [
        ("token_f1", 0.5), ("hit@5", 1.0)]
    assert legend.document_name("Brewing Tea", "/docs/tea/brewing.html", "f12") == \
        "brewing.html — Brewing Tea"
    assert legend.document_name("", "", "f12") == "f12"


def test_example_line_has_its_score_and_documents_have_names():
    from ragloop.evals.report.html import example_details, metrics_table
    from ragloop.records import ContextRef, EvalRecord, RetrievedRef

    record = EvalRecord(
        id="steep", question="How long does green tea steep?", answer="Four minutes [1].",
        gold_doc_ids=("f1",), scores={"token_f1": 0.25, "hit@1": 0.0, "hit@5": 1.0},
        retrieved=(RetrievedRef(chunk_id="f2#0", doc_id="f2", score=0.9,
                                title="pot — Teapot control", source="/docs/pot.html"),
                   RetrievedRef(chunk_id="f1#3", doc_id="f1", score=0.8,
                                title="3. Brewing Tea > 3.2. Steeping Times",
                                source="/docs/brewing.html")),
        context=(ContextRef(chunk_id="f1#3", doc_id="f1", text="Green | 75 | 2",
                            title="3. Brewing Tea > 3.2. Steeping Times",
                            source="/docs/brewing.html"),))
    html = example_details(record)
    summary = html.split("</summary>")[0]
    assert '<span class="bad">token_f1 0.25</span>' in summary
    assert '<span class="good">hit@5 1.00</span>' in summary
    assert "brewing.html — 3. Brewing Tea &gt; 3.2. Steeping Times" in html
    assert "pot.html — pot — Teapot control" in html and "gold: brewing.html" in html
    same = {"mean": 1.0, "low": 1.0, "high": 1.0, "n": 5}
    table = metrics_table({"metrics": {"hit@1": same, "recall@1": dict(same),
                                       "token_f1": {"mean": 0.3, "low": 0.1, "high": 0.5,
                                                    "n": 5}}})
    assert "hit@1 = recall@1" in table and table.count("<tr>") == 3  # header + 2 rows
    assert "word overlap" in table and "what it measures" in table
