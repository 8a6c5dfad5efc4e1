"""Metrics as pure functions of (example, output) → scores. No I/O; judge metrics live in
``ragloop.evals.judges`` and take the judge LLM as an argument."""

from ragloop.evals.metrics.answer import exact_match, extract_label, label_scores, token_f1
from ragloop.evals.metrics.citations import citation_scores
from ragloop.evals.metrics.retrieval import context_scores, retrieval_scores
from ragloop.evals.metrics.stats import (
    bootstrap_ci,
    cohen_kappa,
    confusion_matrix,
    paired_bootstrap_ci,
)

__all__ = ["bootstrap_ci", "citation_scores", "cohen_kappa", "confusion_matrix",
           "context_scores", "exact_match", "extract_label", "label_scores",
           "paired_bootstrap_ci", "retrieval_scores", "token_f1"]
