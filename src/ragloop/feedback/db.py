"""One connection to the project's ``traces.sqlite``, for the trace store and the tables
beside the traces (human labels, online scores, conversations): WAL, every commit synced
(``synchronous=FULL``), foreign keys on, one lock around a shared connection.

SQLite lets several connections share the file; writers take turns (``timeout``), and each
statement here is short.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ragloop.errors import StoreError

TRACES_FILENAME = "traces.sqlite"


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

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: what is read inside it is what the write replaces; all of
        it reaches the disk, or none."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def write(self, statements: list[tuple[str, tuple]]) -> None:
        """Run ``statements`` in one transaction."""
        with self.transaction() as conn:
            for sql, params in statements:
                conn.execute(sql, params)

    def read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

