"""Evaluation: datasets, pure metrics, judges, runs, comparisons, reports and gates."""
