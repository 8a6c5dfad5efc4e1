"""Answer metrics: exact match and token F1 (SQuAD normalisation), label extraction and
accuracy, and per-label precision/recall/F1 with their macro average over a whole run."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_CITATION_MARKER = re.compile(r"\[\d+\]")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """Lower case, no citation markers ``[n]``, no punctuation, no articles, single spaces."""
    text = _CITATION_MARKER.sub(" ", text)
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def exact_match(prediction: str, references: Sequence[str]) -> float:
    norm = normalize(prediction)
    return float(any(norm == normalize(ref) for ref in references))


def _f1(prediction: str, reference: str) -> float:
    pred, ref = normalize(prediction).split(), normalize(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, references: Sequence[str]) -> float:
    """Best token F1 over the references."""
    return max((_f1(prediction, ref) for ref in references), default=0.0)


def extract_label(text: str, labels: Sequence[str]) -> str | None:
    """The first of ``labels`` that appears as a word in ``text`` (case-insensitive), else
    None — an answer naming no label is counted wrong, never guessed."""
    words = normalize(text).split()
    wanted = {label.lower(): label for label in labels}
    for word in words:
        if word in wanted:
            return wanted[word]
    return None


def label_scores(gold: Sequence[str], predicted: Sequence[str | None],
                 labels: Sequence[str] | None = None) -> dict:
    """Accuracy, per-label precision/recall/F1/support, macro-F1 over ``labels`` (default:
    the gold labels seen), and the distribution of predictions (None → "none")."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    labels = list(labels) if labels is not None else sorted(set(gold))
    per_label = {}
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        n_pred = sum(p == label for p in predicted)
        n_gold = sum(g == label for g in gold)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1,
                            "support": n_gold, "predicted": n_pred}
    correct = sum(g == p for g, p in zip(gold, predicted, strict=True))
    distribution = Counter(p if p is not None else "none" for p in predicted)
    return {
        "accuracy": correct / len(gold) if gold else 0.0,
        "macro_f1": sum(v["f1"] for v in per_label.values()) / len(labels) if labels else 0.0,
        "per_label": per_label,
        "prediction_distribution": dict(distribution),
        "n": len(gold),
    }
