"""One connection to the project's ``traces.sqlite`` for the tables beside the traces
(human labels, online scores), opened as the trace store opens its own: WAL, every commit
synced (``synchronous=FULL``), foreign keys on, one lock around a shared connection.

SQLite lets several connections share the file; writers take turns (``timeout``), and each
statement here is short.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ragloop.errors import StoreError
from ragloop.feedback.store import TRACES_FILENAME, TraceStore


class Database:
    def __init__(self, path: Path | str, schema: str = ""):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False,
                                         isolation_level=None, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            if schema:
                self._conn.executescript(schema)
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path}: cannot open: {err}") from None
        self._lock = threading.Lock()

    @classmethod
    def for_data_dir(cls, data_dir: Path | str, schema: str = "") -> Database:
        return cls(Path(data_dir) / TRACES_FILENAME, schema)

    def ensure(self, schema: str) -> None:
        """Create tables and indexes that do not exist yet (``CREATE ... IF NOT EXISTS``)."""
        with self._lock:
            self._conn.executescript(schema)

    def write(self, statements: list[tuple[str, tuple]]) -> None:
        """Run ``statements`` in one transaction: all of them reach the disk, or none."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    self._conn.execute(sql, params)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def project_database(data_dir: Path | str) -> Database:
    """The project's ``traces.sqlite`` with the trace store's tables in place, for a reader
    that may come before the first trace was stored (a fresh project)."""
    TraceStore.for_data_dir(data_dir).close()
    return Database.for_data_dir(data_dir)
