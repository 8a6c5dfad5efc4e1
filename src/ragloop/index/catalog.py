"""The embedded index's catalog: one SQLite database (WAL mode) holding the documents, the
chunk and question records, the list of live segments, deletion tombstones, the commit
generation and index-level metadata. Segments themselves are folders of ``.npy`` files
(``segment.py``); a segment exists for readers only once a committed catalog lists it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

SCHEMA = """
BEGIN;
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents(
    rowid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, source TEXT NOT NULL,
    content_hash TEXT NOT NULL, title TEXT NOT NULL, mtime REAL, n_chunks INTEGER NOT NULL,
    n_questions INTEGER NOT NULL, metadata TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source);
CREATE TABLE IF NOT EXISTS chunks(
    id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, seg TEXT NOT NULL, pos INTEGER NOT NULL,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE UNIQUE INDEX IF NOT EXISTS chunks_seg ON chunks(seg, pos);
CREATE TABLE IF NOT EXISTS questions(
    id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, seg TEXT NOT NULL, pos INTEGER NOT NULL,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS questions_doc ON questions(doc_id);
CREATE UNIQUE INDEX IF NOT EXISTS questions_seg ON questions(seg, pos);
CREATE TABLE IF NOT EXISTS segments(
    name TEXT PRIMARY KEY, target TEXT NOT NULL, size INTEGER NOT NULL, gen INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tombstones(seg TEXT NOT NULL, pos INTEGER NOT NULL,
                                      gen INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_gen ON tombstones(gen);
CREATE INDEX IF NOT EXISTS tombstones_seg ON tombstones(seg);
INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0');
COMMIT;
"""

_INFO = "info:"  # meta keys of the index-level metadata (``Store.index_info``)


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def create(path: Path) -> None:
    conn = connect(path)
    try:
        # read-only check first: a writer may hold the write lock for a long ingest
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name='segments'").fetchone():
            conn.executescript(SCHEMA)
    finally:
        conn.close()


def generation(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])


def meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return row[0] if row else None


def set_generation(conn: sqlite3.Connection, gen: int) -> None:
    conn.execute("UPDATE meta SET value=? WHERE key='generation'", (str(gen),))


def index_info(conn: sqlite3.Connection) -> dict[str, Any]:
    rows = conn.execute("SELECT key, value FROM meta WHERE key LIKE ? ORDER BY key",
                        (_INFO + "%",)).fetchall()
    return {key[len(_INFO):]: json.loads(value) for key, value in rows}


def set_index_info(conn: sqlite3.Connection, info: dict[str, Any]) -> None:
    """Stage index-level metadata in the caller's transaction; ``None`` removes a key."""
    for key, value in info.items():
        if value is None:
            conn.execute("DELETE FROM meta WHERE key=?", (_INFO + key,))
        else:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                         (_INFO + key, json.dumps(value, sort_keys=True)))
