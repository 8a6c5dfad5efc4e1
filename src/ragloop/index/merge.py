"""Log-structured merging of the embedded index's segments, as in Lucene.

After each commit, ``MERGE_FACTOR`` segments of one size level (log base ``MERGE_FACTOR`` of
their live rows) are rewritten as one, dropping deleted rows; each row is thus rewritten
O(log N) times over its life. A merge is its own catalog transaction under the writer lock:
readers keep searching the old segments until it commits, and the folders of merged-away
segments are removed only by the next writer, so a reader still mapping them keeps working.
"""

from __future__ import annotations

import math
import shutil
import sqlite3
import uuid
from pathlib import Path

import numpy as np

from ragloop.index import ann, catalog
from ragloop.index.segment import Segment, merge_matrices, write_segment

MERGE_FACTOR = 8  # merge when this many segments share a size level


def segment_name(target: str, gen: int) -> str:
    return f"{target[0]}{gen:09d}-{uuid.uuid4().hex[:10]}"


def level(size: int) -> int:
    return int(math.log(max(size, 1), MERGE_FACTOR))


def merge_if_due(conn: sqlite3.Connection, segments_dir: Path, target: str,
                 ann_settings: ann.AnnSettings | None = None) -> None:
    """Merge ``MERGE_FACTOR`` segments of one size level into one, repeatedly, until no level
    is full. Runs in its own transactions after a commit, under the writer lock."""
    while True:
        rows = conn.execute(
            "SELECT s.name, s.size - (SELECT count(*) FROM tombstones t WHERE t.seg = s.name) "
            "FROM segments s WHERE s.target=? ORDER BY 2", (target,)).fetchall()
        levels: dict[int, list[str]] = {}
        for name, live in rows:
            levels.setdefault(level(live), []).append(name)
        due = next((names for names in levels.values() if len(names) >= MERGE_FACTOR), None)
        if due is None:
            return
        merge(conn, segments_dir, target, due[:MERGE_FACTOR], ann_settings)


def merge(conn: sqlite3.Connection, segments_dir: Path, target: str, names: list[str],
          ann_settings: ann.AnnSettings | None = None) -> None:
    """Rewrite the live rows of ``names`` as one new segment and swap it in atomically."""
    conn.execute("BEGIN IMMEDIATE")
    gen = catalog.generation(conn) + 1
    new_name = segment_name(target, gen)
    try:
        dim = int(catalog.meta(conn, "dim") or 0)
        segments = {name: Segment.load(segments_dir / name) for name in names}
        dead = {name: [p for (p,) in conn.execute("SELECT pos FROM tombstones WHERE seg=?",
                                                  (name,))] for name in names}
        # the largest segment that has a graph and lost no rows goes first: the merged
        # graph then extends its graph instead of being built from scratch
        base = max((n for n in names if segments[n].graph is not None and not dead[n]),
                   key=lambda n: segments[n].size, default=None)
        if base is not None and ann_settings is not None and ann_settings.enabled:
            names = [base, *(n for n in names if n != base)]
        else:
            base = None
        parts, vector_parts, has_vector, doc_rowid, ids, moves = [], [], [], [], [], []
        at = 0
        for name in names:
            segment = segments[name]
            live = np.ones(segment.size, dtype=bool)
            live[dead[name]] = False
            keep = np.flatnonzero(live)
            matrix, vocab = segment.row_matrix()
            parts.append((matrix[keep], vocab))
            vector_parts.append((segment.vectors, keep))
            has_vector.append(segment.has_vector[keep])
            doc_rowid.append(segment.doc_rowid[keep])
            ids.append(segment.ids[keep])
            moves += [(new_name, at + i, name, int(old)) for i, old in enumerate(keep)]
            at += len(keep)
        matrix, vocab = merge_matrices(parts)
        write_segment(segments_dir / new_name, matrix, vocab, vector_parts, dim,
                      np.concatenate(has_vector), np.concatenate(doc_rowid),
                      np.concatenate(ids) if ids else np.zeros(0, dtype=np.bytes_),
                      ann_settings, segments_dir / base / ann.ANN_FILE if base else None)
        conn.executemany(f"UPDATE {target} SET seg=?, pos=? WHERE seg=? AND pos=?", moves)
        marks = ",".join("?" * len(names))
        conn.execute(f"DELETE FROM segments WHERE name IN ({marks})", names)
        conn.execute(f"DELETE FROM tombstones WHERE seg IN ({marks})", names)
        conn.execute("INSERT INTO segments(name, target, size, gen) VALUES (?,?,?,?)",
                     (new_name, target, at, gen))
        catalog.set_generation(conn, gen)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        shutil.rmtree(segments_dir / new_name, ignore_errors=True)
        raise
