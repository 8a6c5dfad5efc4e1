"""Human labels of live answers (the review queue's verdicts), stored in the project beside
the traces, with who gave them and when.

Every label of one trace falls in one split, chosen when the trace's first label is stored:
a hash of the trace id against ``train_share``, so the choice is stable, needs no state and
never puts one answer in both splits. A label keeps what was judged (question, answer,
retrieved context) and so outlives its trace when traces are pruned.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

from ragloop.feedback.db import Database
from ragloop.records import Label, Trace

SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    created TEXT NOT NULL,
    split TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS labels_trace ON labels(trace_id, created);
CREATE INDEX IF NOT EXISTS labels_metric ON labels(metric, created);
"""


def hashed_split(trace_id: str, train_share: float) -> str:
    """"train" for about ``train_share`` of trace ids, "test" for the rest."""
    point = int(hashlib.sha256(f"split:{trace_id}".encode()).hexdigest()[:8], 16) / 2**32
    return "train" if point < train_share else "test"


def context_of(trace: Trace) -> str:
    """The retrieved chunks of a trace as the judges read them: ``[n] text`` blocks in the
    answer's marker order (the format of ``evals.scoring.context_text``)."""
    chunks = trace.metadata.get("chunks") or []
    return "\n\n".join(f"[{n}] {c.get('text', '')}" for n, c in enumerate(chunks, 1))


class LabelStore:
    def __init__(self, db: Database, *, train_share: float = 0.5):
        self.db = db
        self.train_share = train_share
        db.ensure(SCHEMA)

    def split_of(self, trace_id: str) -> str:
        rows = self.db.read("SELECT split FROM labels WHERE trace_id = ? LIMIT 1", (trace_id,))
        return rows[0][0] if rows else hashed_split(trace_id, self.train_share)

    def add(self, trace: Trace, metric: str, label: int, *, reviewer: str = "",
            note: str = "") -> Label:
        record = Label(id=uuid.uuid4().hex, trace_id=trace.id, metric=metric, label=label,
                       created=datetime.now(UTC), split=self.split_of(trace.id),
                       reviewer=reviewer.strip(), note=note.strip(), question=trace.question,
                       answer=trace.answer, context=context_of(trace))
        self.db.write([("INSERT INTO labels VALUES (?, ?, ?, ?, ?, ?)",
                        (record.id, record.trace_id, record.metric, record.created.isoformat(),
                         record.split, record.model_dump_json()))])
        return record

    def list(self, *, metric: str | None = None, trace_id: str | None = None,
             limit: int | None = None) -> list[Label]:
        """Labels, newest first, of one metric and/or one trace when given."""
        where, params = [], []
        for column, value in (("metric", metric), ("trace_id", trace_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = "SELECT record FROM labels" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created DESC, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [Label.model_validate_json(r[0]) for r in self.db.read(sql, tuple(params))]

    def latest(self) -> list[Label]:
        """The last label of each (trace, metric), oldest first: a relabel replaces the
        earlier verdict rather than counting twice."""
        rows = self.db.read("SELECT record FROM labels ORDER BY created, id")
        last: dict[tuple[str, str], Label] = {}
        for (raw,) in rows:
            label = Label.model_validate_json(raw)
            last.pop((label.trace_id, label.metric), None)
            last[(label.trace_id, label.metric)] = label
        return list(last.values())

    def labelled(self, trace_ids: list[str]) -> set[str]:
        """Which of ``trace_ids`` have at least one label."""
        found: set[str] = set()
        for start in range(0, len(trace_ids), 500):
            part = trace_ids[start:start + 500]
            marks = ",".join("?" * len(part))
            found |= {r[0] for r in self.db.read(
                f"SELECT DISTINCT trace_id FROM labels WHERE trace_id IN ({marks})",
                tuple(part))}
        return found

    def count(self) -> int:
        return self.db.read("SELECT COUNT(*) FROM labels")[0][0]


def label_json(label: Label) -> dict:
    """The API's shape of a label (everything but the stored context, which can be long)."""
    data = json.loads(label.model_dump_json())
    data.pop("context", None)
    return data
