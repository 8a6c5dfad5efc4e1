"""Plots for the HTML reports as inline SVG strings (matplotlib's object API, no pyplot:
thread-safe and no global backend state)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from matplotlib import rcParams
from matplotlib.figure import Figure

rcParams["svg.fonttype"] = "none"  # text stays text: smaller files, selectable labels

BLUE, ORANGE, GREY = "#3b6fb6", "#e07b39", "#888888"


def to_svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element (element ids are random per figure, so several
    plots can share one page)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def metric_bars(names: Sequence[str], means: Sequence[float], lows: Sequence[float],
                highs: Sequence[float], title: str, *, xlabel: str = "",
                bounded: bool = True) -> str:
    """Horizontal bars of means with 95% interval whiskers; ``bounded``: a 0–1 axis (rates),
    else an axis fitted to the values (a score in its own unit, zero marked)."""
    fig = Figure(figsize=(6.5, 0.3 * len(names) + 1.0))
    ax = fig.add_subplot()
    y = list(range(len(names)))[::-1]
    err = [[max(0.0, m - lo) for m, lo in zip(means, lows, strict=True)],
           [max(0.0, hi - m) for m, hi in zip(means, highs, strict=True)]]
    ax.barh(y, means, xerr=err, color=BLUE, ecolor="#222", capsize=3)
    ax.set_yticks(y, labels=list(names))
    if bounded:
        ax.set_xlim(0, max(1.0, max(highs, default=1.0)))
    else:
        ax.axvline(0, color="#444", linewidth=0.8)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return to_svg(fig)


def distributions(series: dict[str, Sequence[float]], title: str, *,
                  bounded: dict[str, bool] | None = None) -> str:
    """Small multiples: a histogram of per-example scores for each metric, on 0–1 unless
    ``bounded`` says a metric is not a rate."""
    names = list(series)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(3.0 * cols, 2.2 * rows))
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        rate = (bounded or {}).get(name, True)
        ax.hist(series[name], bins=10, range=(0, 1) if rate else None, color=BLUE,
                edgecolor="white")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return to_svg(fig)


def histogram(values: Sequence[float], title: str, xlabel: str) -> str:
    fig = Figure(figsize=(6.5, 2.6))
    ax = fig.add_subplot()
    ax.hist(values, bins=min(30, max(5, len(values) // 2)), color=ORANGE, edgecolor="white")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("examples")
    return to_svg(fig)


def comparison_bars(names: Sequence[str], a: Sequence[float], b: Sequence[float],
                    label_a: str, label_b: str) -> str:
    """Grouped bars: each metric's mean in run A and run B."""
    fig = Figure(figsize=(6.5, 0.42 * len(names) + 1.2))
    ax = fig.add_subplot()
    y = list(range(len(names)))[::-1]
    ax.barh([v + 0.2 for v in y], a, height=0.4, color=GREY, label=label_a)
    ax.barh([v - 0.2 for v in y], b, height=0.4, color=BLUE, label=label_b)
    ax.set_yticks(y, labels=list(names))
    ax.set_xlim(0, max(1.0, *a, *b))
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("mean per metric", fontsize=10)
    return to_svg(fig)
