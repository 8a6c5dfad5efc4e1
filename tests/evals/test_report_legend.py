"""The run report explains itself (issue 15 item 6, issue 28 item 4): a meaning per metric,
one row per metric with its own calibration, a score and file names on every collapsed
example."""

from __future__ import annotations

from ragloop.evals.report import legend


def test_every_metric_the_runner_writes_has_a_meaning():
    names = ["hit@1", "recall@5", "mrr@10", "ndcg@5", "context_hit", "context_recall",
             "exact_match", "token_f1", "label_accuracy", "citation_recall",
             "citation_precision", "refused", "judge_correctness", "judge_faithfulness",
             "judge_relevancy", "faithfulness_gain", "judge_faithfulness_likelihood"]
    assert all(legend.meaning(n) for n in names)
    assert "top 5" in legend.meaning("recall@5")


def test_metrics_are_never_merged_and_each_judge_keeps_its_own_calibration():
    """Two judges can score the same mean: the likelihood judge (kappa 0.93) must not be
    shown on the correctness judge's row (kappa 0.20) as it was when equal rows merged."""
    from ragloop.evals.judge_agreement import Agreement
    from ragloop.evals.likelihood import LIKELIHOOD_JUDGE
    from ragloop.evals.report.html import metrics_table

    same = {"mean": 0.5, "low": 0.2, "high": 0.8, "n": 10}
    agreements = {"correctness": Agreement("correctness", 0.2, 10, "shipped labels"),
                  LIKELIHOOD_JUDGE: Agreement(LIKELIHOOD_JUDGE, 0.93, 30, "shipped labels")}
    html = metrics_table({"metrics": {"judge_correctness": same,
                                      "judge_faithfulness_likelihood": dict(same),
                                      "faithfulness_gain": {"mean": 1.9, "low": 1.2,
                                                            "high": 2.5, "n": 10}}},
                         agreements)
    rows = html.split("<tr>")[2:]
    assert len(rows) == 3 and " = " not in html
    by_metric = {next(m for m in ("judge_correctness", "judge_faithfulness_likelihood",
                                  "faithfulness_gain") if f"<td>{m}</td>" in r): r for r in rows}
    assert "UNCALIBRATED: kappa 0.20" in by_metric["judge_correctness"]
    assert "kappa 0.93" in by_metric["judge_faithfulness_likelihood"]
    assert "UNCALIBRATED" not in by_metric["judge_faithfulness_likelihood"]
    gain = by_metric["faithfulness_gain"]
    assert "nats/token" in gain and "kappa 0.93" in gain and "likelihood judge" in gain
    assert legend.is_rate("judge_correctness") and not legend.is_rate("faithfulness_gain")


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
    assert "hit@1 = recall@1" not in table and table.count("<tr>") == 4  # header + 3 rows
    assert "word overlap" in table and "what it measures" in table


def test_rates_and_unbounded_scores_are_plotted_on_separate_axes():
    from types import SimpleNamespace

    from ragloop.evals.report.html import run_plots

    metrics = {"hit@1": {"mean": 0.5, "low": 0.2, "high": 0.8},
               "judge_faithfulness_likelihood": {"mean": 0.9, "low": 0.7, "high": 1.0},
               "faithfulness_gain": {"mean": 2.4, "low": 1.5, "high": 3.1}}
    html = run_plots(SimpleNamespace(aggregates={"metrics": metrics}, records=[]))
    rates = html.split('data-plot="metrics"')[1].split("data-plot=")[0]
    assert "hit@1" in rates and "faithfulness_gain" not in rates
    assert 'data-plot="metric-faithfulness_gain"' in html and "nats" in html
