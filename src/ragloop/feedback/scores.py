"""Online scores: what the monitor's checks found on each live trace, one row per
(trace, metric), kept beside the traces and removed with them (``ON DELETE CASCADE``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ragloop.feedback.db import Database
from ragloop.records import OnlineScore

SCHEMA = """
CREATE TABLE IF NOT EXISTS online_scores (
    trace_id TEXT NOT NULL REFERENCES traces(id) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    created TEXT NOT NULL,
    status TEXT NOT NULL,
    check_name TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (trace_id, metric)
);
CREATE INDEX IF NOT EXISTS online_scores_check ON online_scores(check_name, created);
"""


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class ScoreStore:
    def __init__(self, db: Database):
        self.db = db
        db.ensure(SCHEMA)

    def put(self, scores: Iterable[OnlineScore]) -> None:
        """Store ``scores`` in one transaction, each replacing its (trace, metric)."""
        self.db.write([("INSERT OR REPLACE INTO online_scores VALUES (?, ?, ?, ?, ?, ?)",
                        (s.trace_id, s.metric, s.created.isoformat(), s.status, s.check,
                         s.model_dump_json())) for s in scores])

    def for_traces(self, trace_ids: list[str]) -> dict[str, dict[str, OnlineScore]]:
        """trace id → metric → score, for the ids that have any."""
        out: dict[str, dict[str, OnlineScore]] = {}
        for part in _chunks(trace_ids):
            marks = ",".join("?" * len(part))
            for (raw,) in self.db.read(f"SELECT record FROM online_scores WHERE trace_id IN "
                                       f"({marks})", tuple(part)):
                score = OnlineScore.model_validate_json(raw)
                out.setdefault(score.trace_id, {})[score.metric] = score
        return out

    def calls_since(self, check: str, since: datetime) -> int:
        """Scores of ``check`` that called a model (not skipped) since ``since``: what a
        daily budget counts."""
        return self.db.read("SELECT COUNT(*) FROM online_scores WHERE check_name = ? AND "
                            "created >= ? AND status != 'skipped'",
                            (check, since.isoformat()))[0][0]

    def count(self) -> int:
        return self.db.read("SELECT COUNT(DISTINCT trace_id) FROM online_scores")[0][0]
