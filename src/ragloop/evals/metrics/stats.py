"""Statistics for runs: seeded percentile bootstrap intervals (one sample and paired),
Cohen's kappa and confusion matrices. Small, tested, numpy only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def bootstrap_ci(values: Sequence[float], *, samples: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap of the mean. One value → (v, v, v)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(data.mean())
    if data.size == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, data.size, size=(samples, data.size))
    means = data[idx].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return mean, float(low), float(high)


def paired_bootstrap_ci(a: Sequence[float], b: Sequence[float], **kwargs
                        ) -> tuple[float, float, float]:
    """(mean delta b−a, low, high) resampling examples (pairs kept together)."""
    if len(a) != len(b):
        raise ValueError("paired samples differ in length")
    return bootstrap_ci(np.asarray(b, float) - np.asarray(a, float), **kwargs)


def confusion_matrix(gold: Sequence[str], predicted: Sequence[str],
                     labels: Sequence[str]) -> list[list[int]]:
    """rows: gold label, columns: predicted label, in ``labels`` order."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, predicted, strict=True):
        matrix[index[g]][index[p]] += 1
    return matrix


def cohen_kappa(gold: Sequence[str], predicted: Sequence[str],
                labels: Sequence[str] | None = None) -> float:
    """κ = (p_o − p_e) / (1 − p_e). When both raters use one single label throughout
    (p_e = 1) κ is undefined; 1.0 is returned if they agree fully, else 0.0."""
    labels = list(labels) if labels is not None else sorted(set(gold) | set(predicted))
    matrix = np.asarray(confusion_matrix(gold, predicted, labels), dtype=float)
    total = matrix.sum()
    if total == 0:
        return float("nan")
    observed = np.trace(matrix) / total
    expected = float((matrix.sum(axis=1) * matrix.sum(axis=0)).sum() / total**2)
    if expected == 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return float((observed - expected) / (1 - expected))


def wilson_interval(successes: int, n: int, *, z: float = 1.96) -> tuple[float, float, float]:
    """(rate, low, high): the Wilson score interval of a binomial rate (95% at z = 1.96),
    which stays inside [0, 1] and is sensible for small n and rates near 0 or 1, where the
    normal approximation is not. n = 0 → nan throughout."""
    if n <= 0:
        return float("nan"), float("nan"), float("nan")
    rate = successes / n
    denominator = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denominator
    half = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / denominator
    return rate, float(max(0.0, centre - half)), float(min(1.0, centre + half))
