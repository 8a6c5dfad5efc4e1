"""The Postgres + pgvector store: the same ``Store`` contract as the embedded index, on a
server that many processes and machines can share.

Layout, in one Postgres schema (``[index] pg_schema``)::

    documents                 one row per document (metadata as jsonb, for filters)
    chunks, questions         the records (JSON text), their analysed length and a pgvector
                              column with an HNSW index (cosine)
    <target>_postings         (term, row, doc, tf, len): ragloop's own analyser's terms
    <target>_terms            (term, df): document frequencies of live rows
    stats                     rows and total length per target, for BM25's avgdl
    meta                      the vector dimension and index-level metadata

Lexical search is real BM25 (``bm25.py``'s formula and constants) computed in SQL over the
postings, so scores equal the embedded store's to float tolerance. It reads every posting
of every query term, so its cost grows with the posting lists (see the README).

One ``StoreWriter.commit`` is one transaction, serialised by an advisory lock: readers see
all of a commit or none, and a writer that dies leaves the previous state (the server rolls
back a transaction whose connection is gone). Staged rows are buffered and sent with ``COPY``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ragloop.errors import ConfigError, StoreError
from ragloop.index import bm25
from ragloop.index.analyze import analyze, term_counts
from ragloop.index.factory import BACKENDS
from ragloop.index.store import (
    TARGETS,
    CommitOnExit,
    DocumentEntry,
    Filters,
    RecordsById,
    StoredDocument,
    Target,
    checked_document_input,
    split_bookkeeping,
    vector_dim,
)
from ragloop.records import Bookkeeping, Chunk, Document, Question

try:
    import psycopg
except ImportError as err:  # the [postgres] extra is not installed
    raise ConfigError("the postgres index backend needs the [postgres] extra: "
                      "pip install 'ragloop[postgres]'", key="index.backend") from err

if TYPE_CHECKING:
    from ragloop.config import IndexSettings

FLUSH_ROWS = 5_000  # a writer's buffered rows before they are sent with COPY
# a filtered vector search over at most this many rows is exact (a scan of the filtered rows
# beats an HNSW walk that skips most of what it visits; pgvector issue #259)
EXACT_FILTERED_ROWS = 20_000
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


_DOCUMENT_COLUMNS = ("rowid, id, source, content_hash, title, mtime, n_chunks, n_questions, "
                     "metadata, bookkeeping")


def _document_entry(row) -> DocumentEntry:
    metadata, bookkeeping = split_bookkeeping(row[8], row[9])
    return DocumentEntry(doc_id=row[1], source=row[2], content_hash=row[3], title=row[4],
                         mtime=row[5], n_chunks=row[6], n_questions=row[7], metadata=metadata,
                         bookkeeping=bookkeeping)


@dataclass(frozen=True)
class PostgresSettings:
    url: str
    schema: str = "ragloop"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    ef_search: int = 100  # measured on 100k x 384: recall@10 1.000 at 5.5 ms


def _schema_sql(s: str, m: int, ef_construction: int) -> list[str]:
    statements = [
        "CREATE EXTENSION IF NOT EXISTS vector",
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"CREATE TABLE IF NOT EXISTS {s}.meta(key text PRIMARY KEY, value jsonb NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS {s}.documents(
            rowid bigserial PRIMARY KEY, id text UNIQUE NOT NULL, source text NOT NULL,
            content_hash text NOT NULL, title text NOT NULL, mtime double precision,
            n_chunks integer NOT NULL, n_questions integer NOT NULL, metadata jsonb NOT NULL,
            bookkeeping jsonb NOT NULL DEFAULT '{{}}'::jsonb)""",
        # ingest bookkeeping (hashes, recipe) apart from the user's metadata
        f"""ALTER TABLE {s}.documents ADD COLUMN IF NOT EXISTS bookkeeping jsonb NOT NULL
            DEFAULT '{{}}'::jsonb""",
        f"CREATE INDEX IF NOT EXISTS documents_source ON {s}.documents(source)",
        # metadata equality filters on scalars are containment tests this index serves
        f"""CREATE INDEX IF NOT EXISTS documents_metadata ON {s}.documents
            USING gin (metadata jsonb_path_ops)""",
        f"""CREATE TABLE IF NOT EXISTS {s}.stats(target text PRIMARY KEY, n bigint NOT NULL,
            total_len double precision NOT NULL)""",
        f"""INSERT INTO {s}.stats VALUES ('chunks', 0, 0), ('questions', 0, 0)
            ON CONFLICT DO NOTHING""",
    ]
    for t in TARGETS:
        statements += [
            f"""CREATE TABLE IF NOT EXISTS {s}.{t}(
                row bigserial PRIMARY KEY, id text UNIQUE NOT NULL,
                doc bigint NOT NULL REFERENCES {s}.documents(rowid) ON DELETE CASCADE,
                data text NOT NULL, len integer NOT NULL, embedding vector)""",
            f"CREATE INDEX IF NOT EXISTS {t}_doc ON {s}.{t}(doc)",
            f"""CREATE TABLE IF NOT EXISTS {s}.{t}_postings(term text NOT NULL,
                row bigint NOT NULL, doc bigint NOT NULL, tf real NOT NULL,
                len integer NOT NULL)""",
            f"CREATE INDEX IF NOT EXISTS {t}_postings_term ON {s}.{t}_postings(term)",
            f"CREATE INDEX IF NOT EXISTS {t}_postings_doc ON {s}.{t}_postings(doc)",
            f"""CREATE TABLE IF NOT EXISTS {s}.{t}_terms(term text PRIMARY KEY,
                df bigint NOT NULL)""",
        ]
    return statements


def _vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def _glob_regex(pattern: str) -> str:
    """An ``fnmatch`` pattern as an anchored POSIX regular expression."""
    out, i = ["^"], 0
    while i < len(pattern):
        c = pattern[i]
        i += 1
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            end = pattern.find("]", i + 1 if i < len(pattern) and pattern[i] in "!]" else i)
            if end < 0:
                out.append(r"\[")
                continue
            body = pattern[i:end].replace("\\", "\\\\")
            i = end + 1
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
        else:
            out.append(re.escape(c) if not c.isalnum() else c)
    return "".join(out) + "$"


def _doc_filter(filters: Filters | None) -> tuple[str, list[Any]]:
    """SQL over ``documents d`` matching ``filters`` (``TRUE`` when empty), with its args."""
    if filters is None or filters.is_empty():
        return "TRUE", []
    clauses, args = [], []
    if filters.sources:
        clauses.append("d.source = ANY(%s)")
        args.append(list(filters.sources))
    if filters.path_glob:
        clauses.append("d.source ~ %s")
        args.append(_glob_regex(filters.path_glob))
    if filters.modified_after is not None:
        clauses.append("d.mtime >= %s")
        args.append(filters.modified_after)
    if filters.modified_before is not None:
        clauses.append("d.mtime < %s")
        args.append(filters.modified_before)
    for key, value in filters.fields.items():
        if value is None:  # a missing key equals None, as in Filters.matches
            clauses.append("(d.metadata -> %s IS NULL OR d.metadata -> %s = 'null'::jsonb)")
            args += [key, key]
        elif isinstance(value, str | int | float | bool):
            # for a scalar, containment is equality, and the GIN index can answer it
            clauses.append("d.metadata @> %s::jsonb")
            args.append(json.dumps({key: value}))
        else:  # containment of a list or object would also match a superset
            clauses.append("d.metadata -> %s = %s::jsonb")
            args += [key, json.dumps(value)]
    return " AND ".join(clauses), args


class PostgresStore(RecordsById):
    def __init__(self, settings: PostgresSettings):
        if not _IDENT.match(settings.schema):
            raise ConfigError(f"pg_schema '{settings.schema}' must be a lowercase SQL "
                              "identifier", key="index.pg_schema")
        self.settings = settings
        self.s = settings.schema
        self._lock_key = zlib.crc32(f"ragloop:{self.s}".encode())  # the one writer
        self._schema_lock = zlib.crc32(f"ragloop-schema:{self.s}".encode())  # DDL
        self._local = threading.local()
        self._conns: list[psycopg.Connection] = []
        self._guard = threading.Lock()
        self._closed = False
        with self.connect(autocommit=False) as conn:
            # the last statement of the schema: when it exists, nothing is left to create
            if conn.execute("SELECT to_regclass(%s)", (f"{self.s}.questions_terms",)
                            ).fetchone()[0] is not None:
                return
            # one creator at a time: concurrent CREATE ... IF NOT EXISTS can still collide
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._schema_lock,))
            for statement in _schema_sql(self.s, settings.hnsw_m,
                                         settings.hnsw_ef_construction):
                conn.execute(statement)
            conn.commit()

    # -- connections

    def connect(self, *, autocommit: bool) -> psycopg.Connection:
        try:
            return psycopg.connect(self.settings.url, autocommit=autocommit)
        except psycopg.OperationalError as err:
            raise StoreError(f"cannot connect to the Postgres index: {err}".strip()) from None

    def _conn(self) -> psycopg.Connection:
        if self._closed:
            raise StoreError(f"Postgres index {self.s}: store is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self.connect(autocommit=True)
            # iterative scans keep a filtered HNSW search going until it has k rows
            conn.execute("SET hnsw.iterative_scan = relaxed_order")
            conn.execute(f"SET hnsw.ef_search = {int(self.settings.ef_search)}")
            self._local.conn = conn
            with self._guard:
                self._conns.append(conn)
        return conn

    def _query(self, query: str, args: Sequence[Any] = ()) -> list[tuple]:
        try:
            return self._conn().execute(query, args).fetchall()
        except psycopg.OperationalError as err:
            self._local.conn = None
            raise StoreError(f"Postgres index {self.s}: {err}") from None

    def fix_dim(self, dim: int) -> int:
        """Give the vector columns their dimension and HNSW indexes (pgvector needs a fixed
        dimension for HNSW), once, in a short transaction of its own: done inside a writer's
        transaction, the table locks would block every reader until that writer commits.
        Returns the dimension the index has (an earlier writer's, if one came first)."""
        s, st = self.s, self.settings
        with self.connect(autocommit=False) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._schema_lock,))
            row = conn.execute(f"SELECT value FROM {s}.meta WHERE key = 'dim'").fetchone()
            if row is not None:
                return int(row[0])
            conn.execute(f"INSERT INTO {s}.meta VALUES ('dim', %s)", (json.dumps(dim),))
            for t in TARGETS:
                conn.execute(f"ALTER TABLE {s}.{t} ALTER COLUMN embedding TYPE vector({dim})")
                conn.execute(f"CREATE INDEX IF NOT EXISTS {t}_hnsw ON {s}.{t} USING hnsw "
                             f"(embedding vector_cosine_ops) WITH (m = {int(st.hnsw_m)}, "
                             f"ef_construction = {int(st.hnsw_ef_construction)})")
            conn.commit()
        return dim

    def dim(self) -> int | None:
        rows = self._query(f"SELECT value FROM {self.s}.meta WHERE key = 'dim'")
        return int(rows[0][0]) if rows else None

    # -- search

    def lexical_search(self, query: str, k: int, filters: Filters | None = None, *,
                       target: Target = "chunks") -> list[tuple[str, float]]:
        terms = list(dict.fromkeys(analyze(query)))
        if not terms or k <= 0:
            return []
        where, args = _doc_filter(filters)
        s, t = self.s, target
        restrict = (f"WHERE p.doc IN (SELECT d.rowid FROM {s}.documents d WHERE {where})"
                    if args else "")
        rows = self._query(f"""
            WITH st AS (SELECT n, greatest(total_len / n, 1e-9) AS avgdl FROM {s}.stats
                        WHERE target = %s AND n > 0),
                 q AS (SELECT term, ln(1 + (st.n - df + 0.5) / (df + 0.5)) AS idf
                       FROM {s}.{t}_terms, st WHERE term = ANY(%s) AND df > 0),
                 scored AS (
                    SELECT p.row, sum(q.idf * p.tf * {bm25.K1 + 1}
                               / (p.tf + {bm25.K1} * (1 - {bm25.B}
                                                      + {bm25.B} * p.len / st.avgdl))) AS score
                    FROM {s}.{t}_postings p JOIN q ON p.term = q.term CROSS JOIN st
                    {restrict}
                    GROUP BY p.row ORDER BY score DESC, p.row LIMIT %s)
            SELECT r.id, scored.score FROM scored JOIN {s}.{t} r ON r.row = scored.row
            ORDER BY scored.score DESC, scored.row""", [target, terms, *args, k])
        return [(item_id, float(score)) for item_id, score in rows]

    def vector_search(self, vector: np.ndarray, k: int, filters: Filters | None = None, *,
                      target: Target = "chunks") -> list[tuple[str, float]]:
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if k <= 0:
            return []
        dim = self.dim()
        if dim is None:
            return []
        if query.shape[0] != dim:
            raise StoreError(f"Postgres index {self.s}: query vector has dimension "
                             f"{query.shape[0]}, the index has {dim}")
        s, t, literal = self.s, target, _vector_literal(query)
        if filters is None or filters.is_empty():
            rows = self._query(f"SELECT id, embedding <=> %s::vector FROM {s}.{t} "
                              f"WHERE embedding IS NOT NULL ORDER BY embedding <=> %s::vector "
                              f"LIMIT %s", [literal, literal, k])
            return _by_score(rows)
        where, args = _doc_filter(filters)
        selected = (f"SELECT r.id, r.embedding FROM {s}.{t} r JOIN {s}.documents d "
                    f"ON d.rowid = r.doc WHERE r.embedding IS NOT NULL AND {where}")
        (n_allowed,), = self._query(f"SELECT count(*) FROM ({selected}) a", args)
        if n_allowed > EXACT_FILTERED_ROWS:
            rows = self._query(f"SELECT r.id, r.embedding <=> %s::vector FROM {s}.{t} r "
                              f"JOIN {s}.documents d ON d.rowid = r.doc "
                              f"WHERE r.embedding IS NOT NULL AND {where} "
                              f"ORDER BY r.embedding <=> %s::vector LIMIT %s",
                              [literal, *args, literal, k])
            if len(rows) >= min(k, n_allowed):
                return _by_score(rows)
        # a materialised CTE cannot be served by the HNSW index: exact over the filtered rows
        rows = self._query(f"WITH a AS MATERIALIZED ({selected}) SELECT id, "
                           f"embedding <=> %s::vector AS dist FROM a ORDER BY dist, id LIMIT %s",
                           [*args, literal, k])
        return _by_score(rows)

    # -- records

    def documents(self) -> Iterator[DocumentEntry]:
        last = 0
        while True:
            rows = self._query(
                f"SELECT {_DOCUMENT_COLUMNS} FROM {self.s}.documents WHERE rowid > %s "
                f"ORDER BY rowid LIMIT 1000", [last])
            if not rows:
                return
            yield from map(_document_entry, rows)
            last = rows[-1][0]

    def _get(self, table: str, ids: Sequence[str]) -> dict[str, str]:
        ids = list(ids)
        if not ids:
            return {}
        return dict(self._query(f"SELECT id, data FROM {self.s}.{table} WHERE id = ANY(%s)",
                                [ids]))

    def export(self, batch: int = 256) -> Iterator[StoredDocument]:
        """Every document with its chunks, questions and their vectors, as stored."""
        s, last = self.s, 0
        while True:
            docs = self._query(
                f"SELECT rowid, id, source, content_hash, title, mtime, metadata, bookkeeping "
                f"FROM {s}.documents WHERE rowid > %s ORDER BY rowid LIMIT %s", [last, batch])
            if not docs:
                return
            last = docs[-1][0]
            rowids = [d[0] for d in docs]
            items: dict[str, dict[int, list]] = {}
            for t in TARGETS:
                items[t] = {}
                for doc, data, emb in self._query(
                        f"SELECT doc, data, embedding::text FROM {s}.{t} WHERE doc = ANY(%s) "
                        f"ORDER BY row", [rowids]):
                    items[t].setdefault(doc, []).append((data, emb))
            for rowid, doc_id, source, chash, title, mtime, metadata, kept in docs:
                metadata, bookkeeping = split_bookkeeping(metadata, kept)
                document = Document(id=doc_id, source=source, title=title, text="",
                                    content_hash=chash, mtime=mtime, metadata=metadata,
                                    bookkeeping=bookkeeping)
                chunks = items["chunks"].get(rowid, [])
                questions = items["questions"].get(rowid, [])
                yield StoredDocument(
                    document=document,
                    chunks=[Chunk.model_validate_json(d) for d, _ in chunks],
                    chunk_vectors=_parse_vectors([e for _, e in chunks], self.dim()),
                    questions=[Question.model_validate_json(d) for d, _ in questions],
                    question_vectors=(_parse_vectors([e for _, e in questions], self.dim())
                                      if questions and all(e for _, e in questions) else None))

    def index_info(self) -> dict[str, Any]:
        rows = self._query(f"SELECT key, value FROM {self.s}.meta WHERE key LIKE 'info:%%' "
                           f"ORDER BY key")
        return {key[len("info:"):]: value for key, value in rows}

    def stats(self) -> dict[str, Any]:
        s = self.s
        counts = {t: self._query(f"SELECT count(*) FROM {s}.{t}")[0][0]
                  for t in ("documents", *TARGETS)}
        (size,), = self._query(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'", [s])
        return {**counts, "dim": self.dim(), "bytes": int(size), "schema": s,
                "backend": "postgres"}

    # -- writing and lifetime

    def writer(self) -> PostgresWriter:
        if self._closed:
            raise StoreError(f"Postgres index {self.s}: store is closed")
        return PostgresWriter(self)

    def close(self) -> None:
        with self._guard:
            for conn in self._conns:
                conn.close()
            self._conns = []
            self._closed = True

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _by_score(rows: list[tuple]) -> list[tuple[str, float]]:
    """(id, cosine distance) rows as (id, cosine similarity), best first (iterative scans
    return rows in relaxed order)."""
    return sorted(((item_id, 1.0 - float(dist)) for item_id, dist in rows),
                  key=lambda hit: -hit[1])


def _parse_vectors(texts: list[str | None], dim: int | None) -> np.ndarray:
    if not texts:
        return np.zeros((0, dim or 0), dtype=np.float32)
    return np.asarray([json.loads(t) if t else [0.0] * (dim or 0) for t in texts],
                      dtype=np.float32)


@dataclass
class _Row:
    item_id: str
    doc: int
    data: str
    vector: np.ndarray | None
    counts: Counter[str]


@dataclass
class _Buffer:
    rows: dict[str, list[_Row]] = field(default_factory=dict)  # by document id
    size: int = 0


class PostgresWriter(CommitOnExit):
    """Stages changes in one transaction; usable as a context manager (commit on success,
    rollback on error); after ``commit()`` or ``rollback()`` it may stage the next batch."""

    def __init__(self, store: PostgresStore):
        self.store = store
        self.s = store.s
        self._conn: psycopg.Connection | None = None
        self._dim: int | None = None
        self._buffers: dict[str, _Buffer] = {}

    def _begin(self) -> psycopg.Connection:
        if self._conn is not None:
            return self._conn
        conn = self.store.connect(autocommit=False)
        try:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.store._lock_key,))
            row = conn.execute(f"SELECT value FROM {self.s}.meta WHERE key = 'dim'").fetchone()
        except BaseException:
            conn.close()
            raise
        self._dim = int(row[0]) if row else None
        self._conn = conn
        self._buffers = {t: _Buffer() for t in TARGETS}
        return conn

    def replace_document(self, document: Document, chunks: Sequence[Chunk],
                         chunk_vectors: np.ndarray, questions: Sequence[Question] = (),
                         question_vectors: np.ndarray | None = None) -> None:
        chunk_vectors, question_vectors = checked_document_input(
            document, chunks, chunk_vectors, questions, question_vectors)
        if (len({c.id for c in chunks}) < len(chunks)
                or len({q.id for q in questions}) < len(questions)):
            raise StoreError(f"document {document.id}: duplicate chunk or question id")
        conn = self._begin()
        vectors = (("chunk vectors", chunk_vectors), ("question vectors", question_vectors))
        dim = vector_dim(document.id, self._dim, *vectors)
        if dim != self._dim:  # the first vectors fix the column's type (another writer may have)
            self._dim = vector_dim(document.id, self.store.fix_dim(dim), *vectors)
        self._delete(document.id)
        (doc,) = conn.execute(
            f"INSERT INTO {self.s}.documents(id, source, content_hash, title, mtime, n_chunks, "
            f"n_questions, metadata, bookkeeping) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) "
            f"RETURNING rowid",
            (document.id, document.source, document.content_hash, document.title,
             document.mtime, len(chunks), len(questions), json.dumps(document.metadata),
             document.bookkeeping.model_dump_json(exclude_defaults=True))).fetchone()
        self._stage("chunks", document.id, [
            _Row(c.id, doc, c.model_dump_json(), v, term_counts(c.lexical_text or c.text))
            for c, v in zip(chunks, chunk_vectors, strict=True)])
        self._stage("questions", document.id, [
            _Row(q.id, doc, q.model_dump_json(),
                 question_vectors[i] if question_vectors is not None else None,
                 term_counts(q.text)) for i, q in enumerate(questions)])

    def _stage(self, target: str, doc_id: str, rows: list[_Row]) -> None:
        if not rows:
            return
        buf = self._buffers[target]
        buf.rows[doc_id] = rows
        buf.size += len(rows)
        if buf.size >= FLUSH_ROWS:
            self._flush(target)

    def delete_document(self, doc_id: str) -> None:
        self._begin()
        self._delete(doc_id)

    def set_bookkeeping(self, doc_id: str, bookkeeping: Bookkeeping) -> None:
        self._begin().execute(f"UPDATE {self.s}.documents SET bookkeeping = %s WHERE id = %s",
                              (bookkeeping.model_dump_json(exclude_defaults=True), doc_id))

    def entries(self, doc_ids: Sequence[str]) -> dict[str, DocumentEntry]:
        rows = self._begin().execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM {self.s}.documents WHERE id = ANY(%s)",
            (list(doc_ids),)).fetchall()
        return {row[1]: _document_entry(row) for row in rows}

    def set_index_info(self, **info: Any) -> None:
        conn = self._begin()
        for key, value in info.items():
            if value is None:
                conn.execute(f"DELETE FROM {self.s}.meta WHERE key = %s", ("info:" + key,))
            else:
                conn.execute(f"INSERT INTO {self.s}.meta VALUES (%s, %s) ON CONFLICT (key) "
                             f"DO UPDATE SET value = EXCLUDED.value",
                             ("info:" + key, json.dumps(value, sort_keys=True)))

    def _delete(self, doc_id: str) -> None:
        conn, s = self._conn, self.s
        for buf in self._buffers.values():
            rows = buf.rows.pop(doc_id, None)
            buf.size -= len(rows or ())
        found = conn.execute(f"SELECT rowid FROM {s}.documents WHERE id = %s",
                             (doc_id,)).fetchone()
        if found is None:
            return
        for t in TARGETS:
            # the statistics BM25 reads lose exactly what the document's rows added
            conn.execute(f"""UPDATE {s}.{t}_terms t SET df = t.df - x.c
                             FROM (SELECT term, count(*) AS c FROM {s}.{t}_postings
                                   WHERE doc = %s GROUP BY term) x
                             WHERE t.term = x.term""", found)
            conn.execute(f"""UPDATE {s}.stats st SET n = st.n - x.c,
                                                    total_len = st.total_len - x.l
                             FROM (SELECT count(*) AS c, coalesce(sum(len), 0) AS l
                                   FROM {s}.{t} WHERE doc = %s) x
                             WHERE st.target = %s""", (found[0], t))
            conn.execute(f"DELETE FROM {s}.{t}_postings WHERE doc = %s", found)
        conn.execute(f"DELETE FROM {s}.documents WHERE rowid = %s", found)  # rows cascade

    def _flush(self, target: str) -> None:
        buf = self._buffers.get(target)
        if buf is None or not buf.size:
            return
        conn, s, t = self._conn, self.s, target
        rows = [row for doc_rows in buf.rows.values() for row in doc_rows]
        ids = [r for (r,) in conn.execute(
            f"SELECT nextval(pg_get_serial_sequence('{s}.{t}', 'row')) "
            f"FROM generate_series(1, %s)", (len(rows),))]
        lengths = [sum(row.counts.values()) for row in rows]
        df: Counter[str] = Counter()
        try:
            with conn.cursor().copy(f"COPY {s}.{t}(row, id, doc, data, len, embedding) "
                                    f"FROM STDIN") as copy:
                for rid, row, length in zip(ids, rows, lengths, strict=True):
                    copy.write_row((rid, row.item_id, row.doc, row.data, length,
                                    None if row.vector is None
                                    else _vector_literal(row.vector)))
            with conn.cursor().copy(f"COPY {s}.{t}_postings(term, row, doc, tf, len) "
                                    f"FROM STDIN") as copy:
                for rid, row, length in zip(ids, rows, lengths, strict=True):
                    for term, tf in row.counts.items():
                        copy.write_row((term, rid, row.doc, tf, length))
                    df.update(row.counts.keys())
        except psycopg.errors.UniqueViolation as err:
            raise StoreError(f"duplicate chunk or question id: {err}".strip()) from None
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS new_df(term text, df bigint) "
                     "ON COMMIT DELETE ROWS")
        conn.execute("TRUNCATE new_df")
        with conn.cursor().copy("COPY new_df(term, df) FROM STDIN") as copy:
            for term, count in df.items():
                copy.write_row((term, count))
        conn.execute(f"INSERT INTO {s}.{t}_terms SELECT term, df FROM new_df "
                     f"ON CONFLICT (term) DO UPDATE SET df = {t}_terms.df + EXCLUDED.df")
        conn.execute(f"UPDATE {s}.stats SET n = n + %s, total_len = total_len + %s "
                     f"WHERE target = %s", (len(rows), float(sum(lengths)), t))
        self._buffers[target] = _Buffer()

    def commit(self) -> None:
        if self._conn is None:
            return
        try:
            for target in TARGETS:
                self._flush(target)
            self._conn.commit()
        except BaseException:
            self.rollback()
            raise
        self._finish()

    def rollback(self) -> None:
        if self._conn is None:
            return
        # when the connection is gone, the server has rolled the transaction back
        with contextlib.suppress(psycopg.Error):
            self._conn.rollback()
        self._finish()

    def _finish(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._buffers = {}


@BACKENDS.register("postgres")
def open_postgres(settings: IndexSettings, data_dir: Path) -> PostgresStore:
    """The ``[index] backend = "postgres"`` opener: the server named by ``url`` or by the
    environment variable ``url_env``."""
    url = settings.url or (os.environ.get(settings.url_env) if settings.url_env else None)
    if not url:
        raise ConfigError("the postgres index backend needs [index] url, or url_env naming "
                          "an environment variable that holds it", key="index.url")
    return PostgresStore(PostgresSettings(url=url, schema=settings.pg_schema,
                                          ef_search=settings.pg_ef_search))
