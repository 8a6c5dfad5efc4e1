"""``ragloop monitor run``: score stored traces in a batch, as the server's monitor scores
live ones (same sample, same checks), oldest first. Traces already scored are left as they
are unless ``rescore``; an interrupted batch resumes where it stopped, since what it scored
is stored trace by trace."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ragloop.feedback.db import Database
from ragloop.feedback.scores import ScoreStore
from ragloop.feedback.window import traces_after
from ragloop.monitor.checks import sampled
from ragloop.monitor.scorer import TraceScorer
from ragloop.monitor.worker import error_row


@dataclass
class BatchReport:
    considered: int = 0
    scored: int = 0
    already_scored: int = 0
    not_sampled: int = 0
    statuses: Counter = field(default_factory=Counter)  # (metric, status) of what was stored

    def as_dict(self) -> dict:
        return {"considered": self.considered, "scored": self.scored,
                "already_scored": self.already_scored, "not_sampled": self.not_sampled,
                "statuses": {f"{m}:{s}": n for (m, s), n in sorted(self.statuses.items())}}


def score_stored(scorer: TraceScorer, db: Database, scores: ScoreStore, *,
                 sample_rate: float = 1.0, limit: int | None = None, rescore: bool = False,
                 on_trace: Callable[[BatchReport], None] | None = None) -> BatchReport:
    """Score up to ``limit`` stored traces of the sample (None: all of them)."""
    report = BatchReport()
    cursor = 0
    while limit is None or report.scored < limit:
        batch = traces_after(db, cursor, 100)
        if not batch:
            break
        done = scores.for_traces([t.id for _, t in batch]) if not rescore else {}
        for rowid, trace in batch:
            cursor = rowid
            if limit is not None and report.scored >= limit:
                break
            report.considered += 1
            if not sampled(trace.id, sample_rate):
                report.not_sampled += 1
            elif trace.id in done:
                report.already_scored += 1
            else:
                try:
                    rows = scorer.score(trace)
                except Exception as err:  # recorded for this trace; the batch goes on
                    rows = [error_row(trace, err)]
                scores.put(rows)
                report.scored += 1
                report.statuses.update((r.metric, r.status) for r in rows)
            if on_trace:
                on_trace(report)
    return report
