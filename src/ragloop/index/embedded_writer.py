"""The embedded index's writer: stages changes in one SQLite transaction plus segment files
that no committed catalog lists yet, so nothing is visible before ``commit()`` and a crash at
any point leaves the previous generation complete (orphan folders are removed by the next
writer). One writer at a time, by an ``flock`` on ``writer.lock``.

Cost of a commit: O(size of the batch) — a new small segment plus rows and tombstones — and,
amortised, O(log N) rewrites per row from merging (``merge.py``).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ragloop.errors import StoreError
from ragloop.index import catalog
from ragloop.index.analyze import term_counts
from ragloop.index.merge import merge, merge_if_due, segment_name
from ragloop.index.segment import counts_to_matrix, write_segment
from ragloop.index.store import (
    TARGETS,
    CommitOnExit,
    DocumentEntry,
    checked_document_input,
    vector_dim,
)
from ragloop.records import Bookkeeping, Chunk, Document, Question

if TYPE_CHECKING:
    from ragloop.index.layout import IndexLayout

FLUSH_ROWS = 20_000  # a writer's buffered rows per target before they go to a segment file
LOCK_TIMEOUT_S = 600.0


@dataclass
class _Buffer:
    name: str
    counts: list[Counter[str]] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)
    has_vector: list[bool] = field(default_factory=list)
    doc_rowid: list[int] = field(default_factory=list)
    ids: list[bytes] = field(default_factory=list)


class EmbeddedWriter(CommitOnExit):
    """Stages changes in one SQLite transaction plus not-yet-listed segment files.

    Usable as a context manager (commit on success, rollback on error); after ``commit()`` or
    ``rollback()`` the same writer may stage the next batch.
    """

    def __init__(self, layout: IndexLayout):
        self.layout = layout
        self._conn: sqlite3.Connection | None = None
        self._lock_fh = None
        self._gen = 0
        self._dim: int | None = None
        self._buffers: dict[str, _Buffer] = {}
        self._written: list[tuple[str, str, int]] = []  # (name, target, size)

    # -- transaction

    def _acquire(self) -> None:
        self._lock_fh = open(self.layout.lock_path, "a+")  # noqa: SIM115
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._lock_fh.close()
                    self._lock_fh = None
                    raise StoreError(f"{self.layout.path}: another writer holds the index "
                                     f"lock") from None
                time.sleep(0.05)

    def _release(self) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def _begin(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        self._acquire()
        try:
            conn = catalog.connect(self.layout.db_path)
            conn.execute("BEGIN IMMEDIATE")
            self._remove_orphans(conn)
        except BaseException:
            self._release()
            raise
        self._conn = conn
        self._gen = catalog.generation(conn) + 1
        dim = catalog.meta(conn, "dim")
        self._dim = int(dim) if dim else None
        self._buffers = {}
        self._written = []
        return conn

    def _remove_orphans(self, conn: sqlite3.Connection) -> None:
        """Segment folders no committed generation lists: leftovers of crashed writers or of
        merges (removed only here, under the writer lock)."""
        listed = {name for (name,) in conn.execute("SELECT name FROM segments")}
        for folder in self.layout.segments_dir.iterdir():
            if folder.name not in listed:
                shutil.rmtree(folder, ignore_errors=True)

    def _buffer(self, target: str) -> _Buffer:
        buf = self._buffers.get(target)
        if buf is None:
            buf = _Buffer(name=segment_name(target, self._gen))
            self._buffers[target] = buf
        return buf

    def _flush(self, target: str) -> None:
        buf = self._buffers.pop(target, None)
        if buf is None or not buf.counts:
            return
        matrix, vocab = counts_to_matrix(buf.counts)
        vectors = np.stack(buf.vectors).astype(np.float32)
        write_segment(self.layout.segments_dir / buf.name, matrix, vocab,
                      [(vectors, np.arange(len(vectors)))], vectors.shape[1],
                      np.asarray(buf.has_vector), np.asarray(buf.doc_rowid),
                      np.asarray(buf.ids, dtype=np.bytes_), self.layout.ann)
        self._written.append((buf.name, target, len(buf.counts)))

    # -- staging

    def replace_document(self, document: Document, chunks: Sequence[Chunk],
                         chunk_vectors: np.ndarray, questions: Sequence[Question] = (),
                         question_vectors: np.ndarray | None = None) -> None:
        chunk_vectors, question_vectors = checked_document_input(
            document, chunks, chunk_vectors, questions, question_vectors)
        conn = self._begin()
        dim = vector_dim(document.id, self._dim, ("chunk vectors", chunk_vectors),
                         ("question vectors", question_vectors))
        if dim != self._dim:  # the first vectors of the index fix its dimension
            self._dim = dim
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('dim', ?)",
                         (str(dim),))
        self._delete(document.id)
        cur = conn.execute(
            "INSERT INTO documents(id, source, content_hash, title, mtime, n_chunks, "
            "n_questions, metadata, bookkeeping) VALUES (?,?,?,?,?,?,?,?,?)",
            (document.id, document.source, document.content_hash, document.title,
             document.mtime, len(chunks), len(questions), json.dumps(document.metadata),
             document.bookkeeping.model_dump_json(exclude_defaults=True)))
        doc_rowid = cur.lastrowid
        try:
            for chunk, vector in zip(chunks, chunk_vectors, strict=True):
                self._stage("chunks", chunk.id, document.id, chunk.model_dump_json(),
                            chunk.lexical_text or chunk.text, vector, doc_rowid)
            for i, question in enumerate(questions):
                vector = question_vectors[i] if question_vectors is not None else None
                self._stage("questions", question.id, document.id,
                            question.model_dump_json(), question.text, vector, doc_rowid)
        except sqlite3.IntegrityError as err:
            raise StoreError(f"document {document.id}: duplicate chunk or question id "
                             f"({err})") from None

    def _stage(self, target: str, item_id: str, doc_id: str, data: str, lexical: str,
               vector: np.ndarray | None, doc_rowid: int) -> None:
        buf = self._buffer(target)
        pos = len(buf.counts)
        self._conn.execute(f"INSERT INTO {target}(id, doc_id, seg, pos, data) "
                           "VALUES (?,?,?,?,?)", (item_id, doc_id, buf.name, pos, data))
        buf.counts.append(term_counts(lexical))
        buf.has_vector.append(vector is not None)
        buf.vectors.append(vector if vector is not None
                           else np.zeros(self._dim or 0, dtype=np.float32))
        buf.doc_rowid.append(doc_rowid)
        buf.ids.append(item_id.encode("utf-8"))
        if len(buf.counts) >= FLUSH_ROWS:
            self._flush(target)

    def delete_document(self, doc_id: str) -> None:
        self._begin()
        self._delete(doc_id)

    def set_bookkeeping(self, doc_id: str, bookkeeping: Bookkeeping) -> None:
        self._begin().execute("UPDATE documents SET bookkeeping = ? WHERE id = ?",
                              (bookkeeping.model_dump_json(exclude_defaults=True), doc_id))

    def entries(self, doc_ids: Sequence[str]) -> dict[str, DocumentEntry]:
        return catalog.document_entries(self._begin(), list(doc_ids))

    def set_index_info(self, **info: Any) -> None:
        """Stage index-level metadata (JSON values; ``None`` removes a key), committed
        atomically with the documents staged beside it."""
        catalog.set_index_info(self._begin(), info)

    def _delete(self, doc_id: str) -> None:
        conn = self._conn
        for target in TARGETS:
            conn.execute(f"INSERT INTO tombstones(seg, pos, gen) SELECT seg, pos, ? FROM "
                         f"{target} WHERE doc_id=?", (self._gen, doc_id))
            conn.execute(f"DELETE FROM {target} WHERE doc_id=?", (doc_id,))
        conn.execute("DELETE FROM documents WHERE id=?", (doc_id,))

    def commit(self) -> None:
        if self._conn is None:
            return
        conn = self._conn
        try:
            for target in list(self._buffers):
                self._flush(target)
            conn.executemany("INSERT INTO segments(name, target, size, gen) VALUES (?,?,?,?)",
                             [(name, target, size, self._gen)
                              for name, target, size in self._written])
            catalog.set_generation(conn, self._gen)
            conn.execute("COMMIT")
            self._written = []
            for target in TARGETS:
                merge_if_due(conn, self.layout.segments_dir, target, self.layout.ann)
        except BaseException:
            self.rollback()
            raise
        self._finish()

    def optimize(self) -> dict[str, int]:
        """Merge each target's segments into one, dropping deleted rows (Lucene's force
        merge): a search then walks one graph instead of one per segment. The merged graph
        extends the largest segment's graph. Costs a rewrite of the whole index and memory in
        proportion to it; readers keep searching the old segments until each merge commits.
        Returns the number of segments merged per target."""
        if self._conn is not None:
            raise StoreError(f"{self.layout.path}: commit or roll back before optimize")
        self._acquire()
        merged: dict[str, int] = {}
        try:
            conn = catalog.connect(self.layout.db_path)
            try:
                for target in TARGETS:
                    names = [name for (name,) in conn.execute(
                        "SELECT name FROM segments WHERE target=? ORDER BY gen", (target,))]
                    dead = conn.execute(
                        "SELECT count(*) FROM tombstones t JOIN segments s ON t.seg = s.name "
                        "WHERE s.target=?", (target,)).fetchone()[0]
                    if len(names) > 1 or (names and dead):
                        merge(conn, self.layout.segments_dir, target, names, self.layout.ann)
                        merged[target] = len(names)
            finally:
                conn.close()
        finally:
            self._release()
        return merged

    def rollback(self) -> None:
        if self._conn is None:
            return
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")
        for name, _, _ in self._written:
            shutil.rmtree(self.layout.segments_dir / name, ignore_errors=True)
        self._finish()

    def _finish(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._buffers = {}
        self._written = []
        self._release()


