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

from ragloop.index.store import DocumentEntry, split_bookkeeping

SCHEMA = """
BEGIN;
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents(
    rowid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, source TEXT NOT NULL,
    content_hash TEXT NOT NULL, title TEXT NOT NULL, mtime REAL, n_chunks INTEGER NOT NULL,
    n_questions INTEGER NOT NULL, metadata TEXT NOT NULL, bookkeeping TEXT NOT NULL DEFAULT '');
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


def _checkpointed(path: Path) -> bool:
    """Whether every commit is in the database file itself (no WAL, or an empty one)."""
    wal = Path(f"{path}-wal")
    return path.is_file() and (not wal.exists() or wal.stat().st_size == 0)


def snapshot(path: Path) -> sqlite3.Connection | None:
    """A read-only connection to a catalog whose WAL files cannot be made (a full disk: a
    reader of a WAL database must create them), when every commit is in the database file;
    else None. It takes no locks, so it is only used until a normal connection opens."""
    if not _checkpointed(path):
        return None
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?immutable=1", uri=True,
                           isolation_level=None, check_same_thread=False)
    conn.execute("SELECT 1 FROM meta LIMIT 1")
    return conn


def create(path: Path) -> None:
    try:
        conn = connect(path)
    except sqlite3.OperationalError:
        if snapshot(path) is not None:  # a made catalog on a full disk: readable as it is
            return
        raise
    try:
        # read-only check first: a writer may hold the write lock for a long ingest
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name='segments'").fetchone():
            conn.executescript(SCHEMA)
        _add_bookkeeping_column(conn)
    finally:
        conn.close()


def _add_bookkeeping_column(conn: sqlite3.Connection) -> None:
    """Indexes from before the ``bookkeeping`` column kept it in ``metadata``; they get the
    column (empty: ``store.split_bookkeeping`` reads the old keys) and load as before."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(documents)")}
    if "bookkeeping" not in columns:
        conn.execute("ALTER TABLE documents ADD COLUMN bookkeeping TEXT NOT NULL DEFAULT ''")


DOCUMENT_COLUMNS = ("rowid, id, source, content_hash, title, mtime, n_chunks, n_questions, "
                    "metadata, bookkeeping")


def document_entry(row: tuple) -> DocumentEntry:
    """A ``documents`` row selected as ``DOCUMENT_COLUMNS``, as an entry."""
    metadata, bookkeeping = split_bookkeeping(json.loads(row[8]), json.loads(row[9] or "null"))
    return DocumentEntry(doc_id=row[1], source=row[2], content_hash=row[3], title=row[4],
                         mtime=row[5], n_chunks=row[6], n_questions=row[7], metadata=metadata,
                         bookkeeping=bookkeeping)


def document_entries(conn: sqlite3.Connection, doc_ids: list[str]) -> dict[str, DocumentEntry]:
    found: dict[str, DocumentEntry] = {}
    for start in range(0, len(doc_ids), 500):
        batch = doc_ids[start:start + 500]
        rows = conn.execute(f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id IN "
                            f"({','.join('?' * len(batch))})", batch).fetchall()
        found.update((row[1], document_entry(row)) for row in rows)
    return found


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
