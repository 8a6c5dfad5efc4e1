"""Traces and feedback in one SQLite file (``<data_dir>/traces.sqlite``).

Each write is its own transaction in WAL mode with ``synchronous=FULL``, so a feedback POST
that returned has reached the disk: killing the server afterwards loses nothing.
One connection is shared by the server's threads behind a lock; SQLite serialises writers
anyway and every statement here is short.

Both tables are bounded when the store is opened with bounds (the server does, from
``[serve]``): past ``max_traces`` the oldest traces *without* feedback are removed as new
ones arrive (traces with feedback are the training data: never removed here), and a trace
takes at most ``max_feedback_per_trace`` feedback records (``FeedbackLimitError`` after).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ragloop.errors import StoreError
from ragloop.feedback.db import TRACES_FILENAME, Database
from ragloop.records import Feedback, Trace

_SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    question TEXT NOT NULL,
    strategy TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_created ON traces(created);
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL REFERENCES traces(id),
    created TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_trace ON feedback(trace_id, created);
"""


class UnknownTraceError(StoreError):
    """No trace with this id."""

    def __init__(self, trace_id: str):
        self.trace_id = trace_id
        super().__init__(f"no trace with id {trace_id!r}")


class FeedbackLimitError(StoreError):
    """A trace already holds as many feedback records as it may."""

    def __init__(self, trace_id: str, limit: int):
        self.trace_id = trace_id
        self.limit = limit
        super().__init__(f"trace {trace_id!r} already has {limit} feedback records, the "
                         "limit ([serve] max_feedback_per_trace)")


@dataclass(frozen=True)
class TraceWithFeedback:
    trace: Trace
    feedback: tuple[Feedback, ...]

    @property
    def latest_rating(self) -> str | None:
        rated = [f.rating for f in self.feedback if f.rating]
        return rated[-1] if rated else None

    @property
    def latest_correction(self) -> str | None:
        corrected = [f.corrected_answer for f in self.feedback if f.corrected_answer]
        return corrected[-1] if corrected else None


class TraceStore:
    def __init__(self, path: Path | str, *, max_traces: int | None = None,
                 max_feedback_per_trace: int | None = None):
        self.path = Path(path)
        self.max_traces = max_traces
        self.max_feedback_per_trace = max_feedback_per_trace
        self._db = Database(self.path, _SCHEMA)
        # traces added since the count was last taken: the count is taken again (and the
        # oldest unrated traces removed) only when it may have passed max_traces
        self._traces_known = self.count_traces() if max_traces is not None else 0

    @classmethod
    def for_data_dir(cls, data_dir: Path | str, **bounds) -> TraceStore:
        """The store of a project's data folder; ``bounds``: ``max_traces``,
        ``max_feedback_per_trace``."""
        return cls(Path(data_dir) / TRACES_FILENAME, **bounds)

    def close(self) -> None:
        self._db.close()

    def _write(self, sql: str, params: tuple, check=None) -> None:
        """One transaction: ``check(conn)`` first (it may raise to write nothing)."""
        with self._db.transaction() as conn:
            if check is not None:
                check(conn)
            conn.execute(sql, params)

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self._db.read(sql, params)

    # ---- traces

    def add_trace(self, trace: Trace) -> None:
        self._write("INSERT OR REPLACE INTO traces VALUES (?, ?, ?, ?, ?)",
                    (trace.id, trace.created.isoformat(), trace.question, trace.strategy,
                     trace.model_dump_json()))
        if self.max_traces is not None:
            self._traces_known += 1
            if self._traces_known > self.max_traces:
                self._prune_traces()

    def _prune_traces(self) -> None:
        """Remove the oldest traces without feedback past ``max_traces``."""
        with self._db.transaction() as conn:
            extra = conn.execute("SELECT COUNT(*) FROM traces").fetchone()[0] - self.max_traces
            if extra > 0:
                conn.execute(
                    "DELETE FROM traces WHERE id IN (SELECT t.id FROM traces t WHERE NOT "
                    "EXISTS (SELECT 1 FROM feedback f WHERE f.trace_id = t.id) "
                    "ORDER BY t.created, t.id LIMIT ?)", (extra,))
            left = conn.execute("SELECT COUNT(*) FROM traces").fetchone()[0]
        self._traces_known = left

    def get_trace(self, trace_id: str) -> Trace:
        rows = self._read("SELECT record FROM traces WHERE id = ?", (trace_id,))
        if not rows:
            raise UnknownTraceError(trace_id)
        return Trace.model_validate_json(rows[0][0])

    def ids_starting_with(self, prefix: str, limit: int = 2) -> list[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._read("SELECT id FROM traces WHERE id LIKE ? ESCAPE '\\' LIMIT ?",
                          (escaped + "%", limit))
        return [r[0] for r in rows]

    def has_trace(self, trace_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM traces WHERE id = ?", (trace_id,)))

    def recent(self, limit: int = 20, offset: int = 0) -> list[TraceWithFeedback]:
        rows = self._read("SELECT record FROM traces ORDER BY created DESC, id LIMIT ? OFFSET ?",
                          (limit, offset))
        traces = [Trace.model_validate_json(r[0]) for r in rows]
        return [TraceWithFeedback(t, self.feedback_for(t.id)) for t in traces]

    def count_traces(self) -> int:
        return self._read("SELECT COUNT(*) FROM traces")[0][0]

    # ---- feedback

    def add_feedback(self, feedback: Feedback) -> None:
        limit = self.max_feedback_per_trace

        def check(conn: sqlite3.Connection) -> None:
            if not conn.execute("SELECT 1 FROM traces WHERE id = ?",
                                (feedback.trace_id,)).fetchone():
                raise UnknownTraceError(feedback.trace_id)
            if limit is not None and conn.execute(
                    "SELECT COUNT(*) FROM feedback WHERE trace_id = ?",
                    (feedback.trace_id,)).fetchone()[0] >= limit:
                raise FeedbackLimitError(feedback.trace_id, limit)

        self._write("INSERT INTO feedback VALUES (?, ?, ?, ?)",
                    (feedback.id, feedback.trace_id, feedback.created.isoformat(),
                     feedback.model_dump_json()), check)

    def feedback_for(self, trace_id: str) -> tuple[Feedback, ...]:
        rows = self._read("SELECT record FROM feedback WHERE trace_id = ? ORDER BY created, id",
                          (trace_id,))
        return tuple(Feedback.model_validate_json(r[0]) for r in rows)

    def iter_with_feedback(self, batch: int = 500) -> Iterator[TraceWithFeedback]:
        """Every trace that has feedback, oldest first, streamed in batches."""
        last = ("", "")
        while True:
            rows = self._read(
                "SELECT t.created, t.id, t.record FROM traces t WHERE EXISTS "
                "(SELECT 1 FROM feedback f WHERE f.trace_id = t.id) AND (t.created, t.id) > (?, ?) "
                "ORDER BY t.created, t.id LIMIT ?", (*last, batch))
            if not rows:
                return
            for _created, trace_id, record in rows:
                yield TraceWithFeedback(Trace.model_validate_json(record),
                                        self.feedback_for(trace_id))
            last = (rows[-1][0], rows[-1][1])


def project_database(data_dir: Path | str) -> Database:
    """The project's ``traces.sqlite`` with the trace store's tables in place, for a reader
    that may come before the first trace was stored (a fresh project)."""
    TraceStore.for_data_dir(data_dir).close()
    return Database.for_data_dir(data_dir)


def trace_summary(item: TraceWithFeedback) -> dict:
    """The JSON shape of a trace in listings: the trace, its feedback, and a summary."""
    data = json.loads(item.trace.model_dump_json())
    data["feedback"] = [json.loads(f.model_dump_json()) for f in item.feedback]
    data["rating"] = item.latest_rating
    data["corrected_answer"] = item.latest_correction
    return data
