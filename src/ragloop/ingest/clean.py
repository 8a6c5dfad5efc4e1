"""Text normalisation and duplicate detection.

``normalize_text`` is applied piece by piece while a document is built (see
``loaders.base.DocumentBuilder``), so section and page offsets always point into the cleaned
text. ``DuplicateFilter`` finds exact duplicates (content hash) and near duplicates (MinHash
LSH from ``datasketch``); it holds only hashes and signatures, never document texts.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash, MinHashLSH

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u200c\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_SHINGLE_WORDS = 3
SCHEME = "affine32"  # datasketch's hashing scheme; signatures in the index depend on it


def normalize_text(text: str) -> str:
    """NFKC (ligatures, full-width forms), unified newlines, no control or zero-width
    characters, single spaces, no trailing spaces, at most one blank line in a row."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _shingles(text: str) -> set[bytes]:
    words = text.casefold().split()
    if len(words) <= _SHINGLE_WORDS:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i:i + _SHINGLE_WORDS]).encode("utf-8")
            for i in range(len(words) - _SHINGLE_WORDS + 1)}


@dataclass(frozen=True)
class Duplicate:
    doc_id: str
    of: str  # the id of the document kept
    kind: str  # "exact" or "near"


class DuplicateFilter:
    """Remembers documents by hash and MinHash signature; ``check`` says whether a new one
    duplicates one of them.

    Exact duplicates compare the hash of the normalised text; near duplicates compare MinHash
    signatures of word 3-shingles with LSH at ``threshold`` (estimated Jaccard similarity).
    Signatures are small (``num_perm`` 32-bit values) and are kept in the index's document
    metadata (``encode``/``decode``), so documents indexed by earlier runs count too.
    """

    def __init__(self, threshold: float = 0.9, num_perm: int = 64):
        self.threshold = threshold
        self.num_perm = num_perm
        self._exact: dict[str, str] = {}
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)

    def signature(self, text: str) -> MinHash:
        signature = MinHash(num_perm=self.num_perm, scheme=SCHEME)
        signature.update_batch(list(_shingles(text)))
        return signature

    def encode(self, signature: MinHash) -> str:
        return base64.b64encode(signature.hashvalues.astype("<u4").tobytes()).decode("ascii")

    def decode(self, encoded: str) -> MinHash | None:
        values = np.frombuffer(base64.b64decode(encoded), dtype="<u4").astype(np.uint32)
        if len(values) != self.num_perm:
            return None  # written with another num_perm: only the exact hash is usable
        return MinHash(num_perm=self.num_perm, hashvalues=values, scheme=SCHEME)

    def remember(self, doc_id: str, text_hash: str, signature: MinHash | None) -> None:
        self._exact.setdefault(text_hash, doc_id)
        if signature is not None and doc_id not in self._lsh:
            self._lsh.insert(doc_id, signature)

    def check(self, doc_id: str, text_hash: str, signature: MinHash) -> Duplicate | None:
        """The document this one duplicates, if any (a document is no copy of itself)."""
        first = self._exact.get(text_hash)
        if first is not None and first != doc_id:
            return Duplicate(doc_id, first, "exact")
        near = sorted(key for key in self._lsh.query(signature) if key != doc_id)
        return Duplicate(doc_id, near[0], "near") if near else None
