"""Immutable index segments: the lexical postings and the vectors of one batch of rows.

A segment is a folder of ``.npy`` files (memory-mapped when read) plus its vocabulary. It is
written under a temporary name, fsynced and renamed, and only becomes part of the index when
the SQLite transaction that lists it commits; a crashed writer leaves at most an orphan folder.
Rows are never changed in place: deletions are tombstones kept in SQLite, and small segments
are merged into bigger ones, as in Lucene.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ragloop.index import ann

_FILES = ("vectors", "has_vector", "doc_len", "doc_rowid", "ids", "term_ptr", "post_row",
          "post_tf")


def counts_to_matrix(counts: Sequence[Counter[str]]) -> tuple[sp.csr_matrix, list[str]]:
    """Rows × terms term-frequency matrix and its (sorted) vocabulary."""
    vocab = sorted({term for row in counts for term in row})
    column = {term: i for i, term in enumerate(vocab)}
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    indices: list[int] = []
    data: list[float] = []
    for i, row in enumerate(counts):
        for term, tf in row.items():
            indices.append(column[term])
            data.append(tf)
        indptr[i + 1] = len(indices)
    matrix = sp.csr_matrix((np.asarray(data, dtype=np.float32),
                            np.asarray(indices, dtype=np.int32), indptr),
                           shape=(len(counts), len(vocab)))
    return matrix, vocab


def _save(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, array)
        fh.flush()
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _save_rows(path: Path, parts: Sequence[tuple[np.ndarray, np.ndarray]], dim: int) -> None:
    """Write the selected rows of each (array, row indices) part into one ``.npy``, block by
    block, so merging big segments stays in bounded memory."""
    total = sum(len(rows) for _, rows in parts)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(total, dim))
    at = 0
    for array, rows in parts:
        for start in range(0, len(rows), _BLOCK):
            block = rows[start:start + _BLOCK]
            out[at:at + len(block)] = array[block]
            at += len(block)
    out.flush()
    del out
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


_BLOCK = 65536


def write_segment(folder: Path, matrix: sp.csr_matrix, vocab: Sequence[str],
                  vector_parts: Sequence[tuple[np.ndarray, np.ndarray]], dim: int,
                  has_vector: np.ndarray, doc_rowid: np.ndarray, ids: np.ndarray,
                  ann_settings: ann.AnnSettings | None = None,
                  ann_base: Path | None = None) -> None:
    """Write a segment durably at ``folder`` (which must not exist yet). ``vector_parts`` are
    (vectors, row indices to keep) pairs, concatenated in order; ``ids`` are the rows' chunk
    or question ids as UTF-8 bytes (fixed width, so they memory-map). A segment large enough
    for ``ann_settings`` gets its HNSW graph, extending ``ann_base`` (the graph of the first
    part, when that part keeps all its rows) rather than starting over."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _save_rows(tmp / "vectors.npy", vector_parts, dim)
    n_rows = sum(len(rows) for _, rows in vector_parts)
    if ann_settings is not None and ann_settings.builds_for(n_rows) and dim:
        graph = ann.build(_load(tmp / "vectors.npy"), ann_settings, ann_base)
        ann.write(graph, tmp / ann.ANN_FILE)
        del graph
        with open(tmp / ann.ANN_FILE, "rb+") as fh:
            os.fsync(fh.fileno())
    by_term = matrix.tocsc()
    by_term.sort_indices()
    arrays = {
        "has_vector": np.asarray(has_vector, dtype=bool),
        "doc_len": np.asarray(matrix.sum(axis=1)).ravel().astype(np.float32),
        "doc_rowid": np.asarray(doc_rowid, dtype=np.int64),
        "ids": np.asarray(ids, dtype=np.bytes_),
        "term_ptr": by_term.indptr.astype(np.int64),
        "post_row": by_term.indices.astype(np.int32),
        "post_tf": by_term.data.astype(np.float32),
    }
    for name, array in arrays.items():
        _save(tmp / f"{name}.npy", array)
    with open(tmp / "vocab.txt", "w", encoding="utf-8") as fh:
        fh.write("\n".join(vocab))
        fh.flush()
        os.fsync(fh.fileno())
    fsync_dir(tmp)
    os.replace(tmp, folder)
    fsync_dir(folder.parent)


@dataclass
class Segment:
    """A read-only, memory-mapped segment."""

    name: str
    vectors: np.ndarray  # (n, dim) float32
    has_vector: np.ndarray  # (n,) bool: rows staged without a vector are lexical-only
    doc_len: np.ndarray  # (n,) float32, in analysed terms
    doc_rowid: np.ndarray  # (n,) int64, the documents-table rowid, for filters
    ids: np.ndarray | None  # (n,) bytes: the row's chunk or question id
    term_ptr: np.ndarray  # (V+1,) postings of term t are post_row[term_ptr[t]:term_ptr[t+1]]
    post_row: np.ndarray
    post_tf: np.ndarray
    vocab: dict[str, int]
    graph: Any = None  # the segment's HNSW graph (``ann.py``), when it is large enough

    @property
    def size(self) -> int:
        return int(self.doc_len.shape[0])

    @classmethod
    def load(cls, folder: Path) -> Segment:
        arrays = {name: _load(folder / f"{name}.npy") for name in _FILES if name != "ids"}
        ids_file = folder / "ids.npy"
        arrays["ids"] = _load(ids_file) if ids_file.exists() else None
        text = (folder / "vocab.txt").read_text(encoding="utf-8")
        vocab = {term: i for i, term in enumerate(text.split("\n"))} if text else {}
        # small arrays are read into memory: they are touched by every query
        for name in ("has_vector", "doc_len", "doc_rowid", "term_ptr"):
            arrays[name] = np.array(arrays[name])
        graph_file = folder / ann.ANN_FILE
        graph = ann.load(graph_file) if graph_file.exists() else None
        return cls(name=folder.name, vocab=vocab, graph=graph, **arrays)

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        column = self.vocab.get(term)
        if column is None:
            return _EMPTY_ROWS, _EMPTY_TFS
        start, end = self.term_ptr[column], self.term_ptr[column + 1]
        return self.post_row[start:end], self.post_tf[start:end]

    def row_matrix(self) -> tuple[sp.csr_matrix, list[str]]:
        """The rows × terms matrix, for merging."""
        vocab = [""] * len(self.vocab)
        for term, i in self.vocab.items():
            vocab[i] = term
        by_term = sp.csc_matrix((np.asarray(self.post_tf), np.asarray(self.post_row),
                                 self.term_ptr), shape=(self.size, len(vocab)))
        return by_term.tocsr(), vocab


def _load(path: Path) -> np.ndarray:
    try:
        # a plain ndarray view of the map: slicing a np.memmap costs far more per call
        return np.load(path, mmap_mode="r").view(np.ndarray)
    except ValueError:  # an empty array cannot be memory-mapped
        return np.load(path)


_EMPTY_ROWS = np.zeros(0, dtype=np.int32)
_EMPTY_TFS = np.zeros(0, dtype=np.float32)


def merge_matrices(parts: Sequence[tuple[sp.csr_matrix, list[str]]]) -> tuple[sp.csr_matrix,
                                                                            list[str]]:
    """Stack row matrices that each have their own vocabulary onto one shared vocabulary."""
    vocab = sorted({term for _, terms in parts for term in terms})
    column = {term: i for i, term in enumerate(vocab)}
    stacked = []
    for matrix, terms in parts:
        remap = np.asarray([column[t] for t in terms], dtype=np.int32)
        coo = matrix.tocoo()
        stacked.append(sp.csr_matrix((coo.data, (coo.row, remap[coo.col] if len(terms) else
                                                 coo.col)),
                                     shape=(matrix.shape[0], len(vocab))))
    return sp.vstack(stacked, format="csr") if stacked else sp.csr_matrix((0, 0)), vocab
