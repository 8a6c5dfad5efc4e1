"""What the report's numbers mean, in words: a legend for every metric, the unit of the
metrics that are not rates, and the one score that sums up an example."""

from __future__ import annotations

from collections.abc import Mapping

# metric name or its prefix before "@" → what it measures (k is the cut-off after "@")
MEANINGS: dict[str, str] = {
    "hit": "share of questions with at least one gold document (or chunk) in the top k",
    "recall": "share of the gold documents (or chunks) found in the top k, averaged",
    "mrr": "1 / rank of the first gold result within the top k (0 when none), averaged",
    "ndcg": "rank-discounted gain of the gold results in the top k, 1 = all of them first",
    "context_hit": "share of questions with a gold document (or chunk) among the chunks put in "
                   "the answer prompt",
    "context_recall": "share of the gold documents (or chunks) put in the answer prompt",
    "exact_match": "the answer equals a reference answer after normalisation (1/0)",
    "token_f1": "word overlap (F1) between the answer and the closest reference answer",
    "label_accuracy": "the label read from the answer equals the gold label (1/0)",
    "citation_recall": "share of the answer's sentences supported by a chunk they cite",
    "citation_precision": "share of the answer's [n] markers whose chunk supports their "
                          "sentence",
    "refused": "share of questions the answerer declined to answer",
    "judge_correctness": "LLM judge: the answer agrees with the reference (1/0)",
    "judge_faithfulness": "LLM judge: every claim of the answer is supported by the context "
                          "(1/0)",
    "judge_relevancy": "LLM judge: the answer addresses the question (1/0)",
    "faithfulness_gain": "likelihood judge: how much more likely the model finds the answer "
                         "with its context than without (mean log-likelihood gain, nats per "
                         "token; above the fitted threshold reads as faithful)",
    "judge_faithfulness_likelihood": "likelihood judge's verdict: faithfulness_gain at or "
                                     "above the threshold fitted on human labels (1/0)",
    "grounded": "grounding check: the answer cites a chunk and most of its content words are "
                "in the chunks it cites (1/0)",
    "grounding_support": "share of the answer's content words found in the chunks it cites",
}

# metrics that are not rates in [0, 1]: plotted on an axis of their own, in their unit
UNITS: dict[str, str] = {"faithfulness_gain": "nats/token"}

# the score that stands for an example in its one-line summary, the first one it has
HEADLINE = ("judge_correctness", "label_accuracy", "token_f1", "exact_match")


def meaning(metric: str) -> str:
    name, _, k = metric.partition("@")
    text = MEANINGS.get(metric) or MEANINGS.get(name, "")
    return text.replace("top k", f"top {k}") if k else text


def unit(metric: str) -> str:
    """"" for a rate (0 to 1), else the metric's unit."""
    return UNITS.get(metric, "")


def is_rate(metric: str) -> bool:
    return metric not in UNITS


def headline(scores: Mapping[str, float]) -> tuple[str, float] | None:
    """(metric, score) that sums up one example, or None when it has none of them."""
    for name in HEADLINE:
        if name in scores:
            return name, scores[name]
    return None


def best_retrieval(scores: Mapping[str, float]) -> tuple[str, float] | None:
    """hit@k at the largest k the run measured, for the example's summary line."""
    hits = sorted((int(n.split("@")[1]), n) for n in scores
                  if n.startswith("hit@") and n.split("@")[1].isdigit())
    return (hits[-1][1], scores[hits[-1][1]]) if hits else None


def summary_scores(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """The scores an example's one-line summary shows: its headline answer score and its
    widest hit@k."""
    return [s for s in (headline(scores), best_retrieval(scores)) if s is not None]


def document_name(title: str, source: str, doc_id: str) -> str:
    """How the report names a document: its file name and title, the id only when neither
    is known (records written before sources were kept)."""
    name = source.replace("\\", "/").rsplit("/", 1)[-1] if source else ""
    parts = [p for p in (name, title) if p]
    return " — ".join(parts) if parts else doc_id
