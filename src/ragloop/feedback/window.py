"""Reads over many traces at once, for the monitor: the traces stored after a point (in
insertion order, what a background scorer follows) and those of a time window with their
feedback (what a dashboard aggregates). Batched queries, never one per trace."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from ragloop.feedback.db import Database
from ragloop.records import Feedback, Trace


def newest_rowid(db: Database) -> int:
    """Where a follower starts to see only traces stored from now on."""
    return db.read("SELECT COALESCE(MAX(rowid), 0) FROM traces")[0][0]


def traces_after(db: Database, rowid: int, limit: int = 50) -> list[tuple[int, Trace]]:
    """Traces stored after ``rowid``, in the order they were stored."""
    rows = db.read("SELECT rowid, record FROM traces WHERE rowid > ? ORDER BY rowid LIMIT ?",
                   (rowid, limit))
    return [(r[0], Trace.model_validate_json(r[1])) for r in rows]


def traces_between(db: Database, start: datetime, end: datetime,
                   batch: int = 500) -> Iterator[Trace]:
    """Traces created in [start, end), oldest first, streamed in batches."""
    last = (start.isoformat(), "")
    while True:
        rows = db.read("SELECT created, id, record FROM traces WHERE (created, id) > (?, ?) "
                       "AND created < ? ORDER BY created, id LIMIT ?",
                       (*last, end.isoformat(), batch))
        if not rows:
            return
        for _created, _id, record in rows:
            yield Trace.model_validate_json(record)
        last = (rows[-1][0], rows[-1][1])


def feedback_of(db: Database, trace_ids: list[str]) -> dict[str, tuple[Feedback, ...]]:
    """trace id → its feedback, oldest first, for the ids that have any."""
    out: dict[str, list[Feedback]] = {}
    for start in range(0, len(trace_ids), 500):
        part = trace_ids[start:start + 500]
        marks = ",".join("?" * len(part))
        for (raw,) in db.read(f"SELECT record FROM feedback WHERE trace_id IN ({marks}) "
                              "ORDER BY created, id", tuple(part)):
            item = Feedback.model_validate_json(raw)
            out.setdefault(item.trace_id, []).append(item)
    return {k: tuple(v) for k, v in out.items()}


def recent_traces(db: Database, limit: int) -> list[Trace]:
    """The last ``limit`` traces stored, newest first."""
    rows = db.read("SELECT record FROM traces ORDER BY rowid DESC LIMIT ?", (limit,))
    return [Trace.model_validate_json(r[0]) for r in rows]
