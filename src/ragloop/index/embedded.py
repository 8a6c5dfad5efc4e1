"""The embedded index: one folder in the project's data folder, no server.

Layout::

    index/index.sqlite   the catalog (``catalog.py``): documents, chunk and question records,
                         live segments, deletion tombstones, the commit generation (WAL mode)
    index/segments/<n>/  immutable segments (``segment.py``): BM25 postings + float32 vectors,
                         memory-mapped
    index/writer.lock    one writer at a time (``embedded_writer.py``)

This module is the reading side. Readers search a consistent snapshot (one generation) while
a writer commits, and pick up a commit incrementally (new segments and new tombstones only).
BM25 (``bm25.py``) is scored at query time with collection-wide statistics over live rows
only, so results do not depend on how rows are split into segments (``merge.py``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ragloop.errors import StoreError
from ragloop.index import ann, bm25, catalog
from ragloop.index.analyze import analyze
from ragloop.index.embedded_writer import EmbeddedWriter
from ragloop.index.factory import BACKENDS
from ragloop.index.layout import IndexLayout
from ragloop.index.segment import Segment
from ragloop.index.store import (
    TARGETS,
    DocumentEntry,
    Filters,
    RecordsById,
    StoredDocument,
    Target,
    split_bookkeeping,
)
from ragloop.records import Chunk, Document, Question

if TYPE_CHECKING:
    from ragloop.config import IndexSettings

DENSE_SCORING_ROWS = bm25.DENSE_ROWS  # segments up to this size score vectors in one loop


# ----------------------------------------------------------------------------- reading


@dataclass
class _Part:
    segment: Segment
    live: np.ndarray  # bool per row


@dataclass
class _View:
    """The searchable state of one generation: segments with their live-row masks."""

    gen: int
    parts: dict[str, list[_Part]]
    n_live: dict[str, int]
    total_len: dict[str, float]
    filter_masks: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)


def _dot(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Scores of every row. Small segments use a single-threaded loop: a multi-threaded BLAS
    matrix-vector product was measured at 0.15 ms or 30 ms per call on a busy 2-core machine
    (threads spinning for a core), the loop at a steady 0.3 ms for 5k x 384."""
    if len(vectors) <= DENSE_SCORING_ROWS:
        return np.einsum("ij,j->i", vectors, query)
    return vectors @ query


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
    return idx[np.argsort(-scores[idx], kind="stable")]


class EmbeddedStore(RecordsById):
    def __init__(self, path: Path, ann_settings: ann.AnnSettings | None = None):
        self.layout = IndexLayout(Path(path), ann_settings or ann.AnnSettings()).create()
        self.path = self.layout.path
        self.ann = self.layout.ann
        self.segments_dir = self.layout.segments_dir
        self.db_path = self.layout.db_path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._view: _View | None = None
        self._segment_cache: dict[str, Segment] = {}
        self._filter_cache: dict[tuple[int, str], np.ndarray] = {}
        self._mask_cache: dict[tuple[int, str, str], list[np.ndarray]] = {}
        self._closed = False

    # -- connections and snapshots

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"{self.path}: store is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = catalog.connect(self.db_path)
            except sqlite3.OperationalError:
                # a full disk: searching writes nothing, so read the catalog as it is (not
                # kept: the next call tries a normal connection again)
                found = catalog.snapshot(self.db_path)
                if found is None:
                    raise
                return found
            self._local.conn = conn
            with self._lock:
                self._all_conns = [*getattr(self, "_all_conns", []), conn]
        return conn

    def _current(self) -> _View:
        """The view of the latest committed generation. Searches need no SQL beyond this
        generation check; a changed generation is loaded in one read transaction (retried
        once when a concurrent merge removed a segment between listing and loading it)."""
        conn = self._conn()
        view = self._view
        if view is not None and catalog.generation(conn) == view.gen:
            return view
        for attempt in range(2):
            conn.execute("BEGIN")
            try:
                return self._view_for(conn)
            except FileNotFoundError:
                if attempt:
                    raise
            finally:
                conn.execute("COMMIT")
        raise AssertionError("unreachable")

    def _load_segment(self, name: str) -> Segment:
        segment = self._segment_cache.get(name)
        if segment is None:
            segment = Segment.load(self.segments_dir / name)
            self._segment_cache[name] = segment
        return segment

    def _view_for(self, conn: sqlite3.Connection) -> _View:
        gen = catalog.generation(conn)
        with self._lock:
            base = self._view
            if base is not None and base.gen == gen:
                return base
            view = self._build_view(conn, gen, base if base and base.gen < gen else None)
            if base is None or gen > base.gen:
                self._view = view
                live = {p.segment.name for parts in view.parts.values() for p in parts}
                for name in list(self._segment_cache):
                    if name not in live:
                        del self._segment_cache[name]
            return view

    def _build_view(self, conn: sqlite3.Connection, gen: int, base: _View | None) -> _View:
        rows = conn.execute("SELECT name, target FROM segments ORDER BY gen, name").fetchall()
        old = {p.segment.name: p for parts in (base.parts.values() if base else ())
               for p in parts}
        dead: dict[str, list[int]] = {}
        if base is not None:
            for seg, pos in conn.execute("SELECT seg, pos FROM tombstones WHERE gen > ?",
                                         (base.gen,)):
                dead.setdefault(seg, []).append(pos)
        parts: dict[str, list[_Part]] = {t: [] for t in TARGETS}
        for name, target in rows:
            if name in old:
                live = old[name].live
                if name in dead:
                    live = live.copy()
                    live[dead[name]] = False
            else:
                segment = self._load_segment(name)
                if segment.ids is None:  # written before segments kept their ids
                    segment.ids = _ids_from_table(conn, target, name, segment.size)
                live = np.ones(segment.size, dtype=bool)
                gone = [p for (p,) in conn.execute("SELECT pos FROM tombstones WHERE seg=?",
                                                    (name,))]
                live[gone] = False
            parts[target].append(_Part(self._load_segment(name), live))
        n_live = {t: int(sum(p.live.sum() for p in parts[t])) for t in TARGETS}
        total = {t: float(sum(p.segment.doc_len[p.live].sum() for p in parts[t]))
                 for t in TARGETS}
        return _View(gen=gen, parts=parts, n_live=n_live, total_len=total)

    # -- filters

    @staticmethod
    def _filter_key(filters: Filters) -> str:
        return json.dumps(asdict(filters), sort_keys=True, default=str)

    def _allowed_docs(self, conn: sqlite3.Connection, gen: int, filters: Filters) -> np.ndarray:
        key = (gen, self._filter_key(filters))
        cached = self._filter_cache.get(key)
        if cached is not None:
            return cached
        sql, args = "SELECT rowid, source, mtime, metadata FROM documents WHERE 1=1", []
        if filters.sources:
            sql += f" AND source IN ({','.join('?' * len(filters.sources))})"
            args += list(filters.sources)
        if filters.modified_after is not None:
            sql += " AND mtime >= ?"
            args.append(filters.modified_after)
        if filters.modified_before is not None:
            sql += " AND mtime < ?"
            args.append(filters.modified_before)
        allowed = [rowid for rowid, source, mtime, metadata in conn.execute(sql, args)
                   if filters.matches(source, mtime, json.loads(metadata))]
        result = np.asarray(sorted(allowed), dtype=np.int64)
        if len(self._filter_cache) > 64:
            self._filter_cache.clear()
        self._filter_cache[key] = result
        return result

    def _masks(self, view: _View, target: str, filters: Filters | None) -> list[np.ndarray]:
        parts = view.parts[target]
        if filters is None or filters.is_empty():
            return [p.live for p in parts]
        # Masks are per generation and filter: np.isin builds a table as wide as the rowid
        # range for every segment, which at 1M rows in 11 segments cost ~60 ms per query.
        key = (view.gen, target, self._filter_key(filters))
        masks = self._mask_cache.get(key)
        if masks is None:
            allowed = self._allowed_docs(self._conn(), view.gen, filters)
            masks = [p.live & np.isin(p.segment.doc_rowid, allowed) for p in parts]
            if len(self._mask_cache) >= 8:  # each holds a bool per row: keep few
                self._mask_cache.clear()
            self._mask_cache[key] = masks
        return masks

    # -- search

    def lexical_search(self, query: str, k: int, filters: Filters | None = None, *,
                       target: Target = "chunks") -> list[tuple[str, float]]:
        terms = list(dict.fromkeys(analyze(query)))
        if not terms or k <= 0:
            return []
        view = self._current()
        parts = view.parts[target]
        n = view.n_live[target]
        if n == 0:
            return []
        avgdl = max(view.total_len[target] / n, 1e-9)
        postings = [[p.segment.postings(t) for t in terms] for p in parts]
        df = np.zeros(len(terms))
        for part, lists in zip(parts, postings, strict=True):
            for i, (rows, _) in enumerate(lists):
                if len(rows):
                    df[i] += np.count_nonzero(part.live[rows])
        term_idf = bm25.idf(n, df)
        masks = self._masks(view, target, filters)
        hits: list[tuple[float, int, int]] = []
        for pi, (part, lists, mask) in enumerate(zip(parts, postings, masks, strict=True)):
            rows, scores = bm25.score_postings(lists, term_idf, part.segment.doc_len, avgdl,
                                               mask)
            for j in _top(scores, k):
                hits.append((float(scores[j]), pi, int(rows[j])))
        return self._resolve(view, target, hits, k)

    def vector_search(self, vector: np.ndarray, k: int, filters: Filters | None = None, *,
                      target: Target = "chunks") -> list[tuple[str, float]]:
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if k <= 0:
            return []
        view = self._current()
        parts = view.parts[target]
        masks = self._masks(view, target, filters)
        hits: list[tuple[float, int, int]] = []
        for pi, (part, mask) in enumerate(zip(parts, masks, strict=True)):
            valid = mask & part.segment.has_vector
            if not valid.any():
                continue
            if part.segment.vectors.shape[1] != query.shape[0]:
                raise StoreError(f"{self.path}: query vector has dimension "
                                 f"{query.shape[0]}, the index has "
                                 f"{part.segment.vectors.shape[1]}")
            rows, scores = self._segment_vector_search(part.segment, query, k, valid)
            hits += [(float(score), pi, int(row)) for row, score in zip(rows, scores,
                                                                         strict=True)]
        return self._resolve(view, target, hits, k)

    def _segment_vector_search(self, segment: Segment, query: np.ndarray, k: int,
                               valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (rows, scores) of one segment among its ``valid`` rows: through the
        segment's HNSW graph when it has one and the valid rows are not a small share of it,
        exactly otherwise."""
        n_valid = int(np.count_nonzero(valid))
        k = min(k, n_valid)
        if segment.graph is not None and self.ann.enabled:
            if n_valid >= ann.EXACT_BELOW_FRACTION * segment.size:
                return ann.search(segment.graph, query, k,
                                  None if n_valid == segment.size else valid,
                                  self.ann.ef_for(segment.size))
            rows = np.flatnonzero(valid)
            scores = ann.exact(segment.vectors, query, rows)
            top = _top(scores, k)
            return rows[top], scores[top]
        scores = _dot(segment.vectors, query)
        scores[~valid] = -np.inf
        top = _top(scores, k)
        return top, scores[top]

    @staticmethod
    def _resolve(view: _View, target: str, hits: list[tuple[float, int, int]],
                 k: int) -> list[tuple[str, float]]:
        hits.sort(key=lambda h: -h[0])
        parts = view.parts[target]
        return [(parts[pi].segment.ids[pos].decode("utf-8"), score)
                for score, pi, pos in hits[:k]]

    # -- records

    def documents(self) -> Iterator[DocumentEntry]:
        last = 0
        while True:
            rows = self._conn().execute(
                f"SELECT {catalog.DOCUMENT_COLUMNS} FROM documents WHERE rowid > ? "
                "ORDER BY rowid LIMIT 1000", (last,)).fetchall()
            if not rows:
                return
            yield from map(catalog.document_entry, rows)
            last = rows[-1][0]

    def _get(self, table: str, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):
            batch = ids[start:start + 500]
            sql = f"SELECT id, data FROM {table} WHERE id IN ({','.join('?' * len(batch))})"
            found.update(self._conn().execute(sql, batch).fetchall())
        return found

    def export(self, batch: int = 256) -> Iterator[StoredDocument]:
        """Every document with its chunks, questions and vectors, in insertion order."""
        last = 0
        while True:
            conn = self._conn()
            conn.execute("BEGIN")
            try:
                docs = conn.execute(
                    "SELECT rowid, id, source, content_hash, title, mtime, metadata, "
                    "bookkeeping FROM documents WHERE rowid > ? ORDER BY rowid LIMIT ?",
                    (last, batch)).fetchall()
                items: dict[str, dict[str, list]] = {t: {} for t in TARGETS}
                marks = ",".join("?" * len(docs))
                for target in TARGETS:
                    for doc_id, seg, pos, data in conn.execute(
                            f"SELECT doc_id, seg, pos, data FROM {target} WHERE doc_id IN "
                            f"({marks}) ORDER BY rowid", [d[1] for d in docs]):
                        segment = self._load_segment(seg)
                        vector = (np.array(segment.vectors[pos])
                                  if segment.has_vector[pos] else None)
                        items[target].setdefault(doc_id, []).append((data, vector))
            finally:
                conn.execute("COMMIT")
            if not docs:
                return
            last = docs[-1][0]
            dim = int(catalog.meta(conn, "dim") or 0)
            for _, doc_id, source, chash, title, mtime, metadata, kept in docs:
                metadata, bookkeeping = split_bookkeeping(json.loads(metadata),
                                                          json.loads(kept or "null"))
                chunks = items["chunks"].get(doc_id, [])
                questions = items["questions"].get(doc_id, [])
                has_qvec = bool(questions) and all(v is not None for _, v in questions)
                yield StoredDocument(
                    document=Document(id=doc_id, source=source, title=title, text="",
                                      content_hash=chash, mtime=mtime, metadata=metadata,
                                      bookkeeping=bookkeeping),
                    chunks=[Chunk.model_validate_json(d) for d, _ in chunks],
                    chunk_vectors=np.asarray([v if v is not None else np.zeros(dim)
                                              for _, v in chunks],
                                             dtype=np.float32).reshape(len(chunks), dim),
                    questions=[Question.model_validate_json(d) for d, _ in questions],
                    question_vectors=(np.asarray([v for _, v in questions], dtype=np.float32)
                                      if has_qvec else None))

    def index_info(self) -> dict[str, Any]:
        """Index-level metadata set by writers (e.g. which embedder built the vectors)."""
        return catalog.index_info(self._conn())

    def stats(self) -> dict[str, Any]:
        conn = self._conn()
        counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("documents", "chunks", "questions", "segments")}
        dim = catalog.meta(conn, "dim")
        return {**counts, "generation": catalog.generation(conn), "dim": int(dim) if dim else None,
                "bytes": self._live_bytes(conn), "path": str(self.path)}

    def _live_bytes(self, conn) -> int:
        """What the index holds on disk: the catalog's pages as this connection sees them
        (WAL frames included) and the segments it lists. Not the files a writer has yet to
        checkpoint or delete, so the figure is the same whenever it is read."""
        pages, page_size = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                            for p in ("page_count", "page_size"))
        names = [row[0] for row in conn.execute("SELECT name FROM segments")]
        segments = sum(f.stat().st_size for name in names
                       for f in (self.segments_dir / name).rglob("*") if f.is_file())
        return pages * page_size + segments

    # -- writing

    def writer(self) -> EmbeddedWriter:
        return EmbeddedWriter(self.layout)

    def close(self) -> None:
        with self._lock:
            for conn in getattr(self, "_all_conns", []):
                conn.close()
            self._all_conns = []
            self._closed = True
            self._view = None
            self._segment_cache.clear()

    def __enter__(self) -> EmbeddedStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _ids_from_table(conn: sqlite3.Connection, target: str, name: str, size: int) -> np.ndarray:
    ids = np.zeros(size, dtype=object)
    for pos, item_id in conn.execute(f"SELECT pos, id FROM {target} WHERE seg=?", (name,)):
        ids[pos] = item_id
    return np.asarray([i.encode("utf-8") if i else b"" for i in ids], dtype=np.bytes_)


def open_store(path: Path, ann_settings: ann.AnnSettings | None = None) -> EmbeddedStore:
    """Open (creating if needed) the embedded index at ``path``. ``ann_settings`` decide
    which segments get an HNSW graph when written and how graphs are searched."""
    return EmbeddedStore(Path(path), ann_settings)


@BACKENDS.register("embedded")
def open_embedded(settings: IndexSettings, data_dir: Path) -> EmbeddedStore:
    """The ``embedded`` backend's opener (``ragloop.index.factory``): ``<data_dir>/index``."""
    return open_store(Path(data_dir) / "index", ann.AnnSettings(
        enabled=settings.ann, min_rows=settings.ann_min_rows, m=settings.ann_m,
        ef_construction=settings.ann_ef_construction, ef_search=settings.ann_ef_search,
        ef_rows=settings.ann_ef_rows))
