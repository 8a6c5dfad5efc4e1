"""Sentence-aware recursive splitting: paragraphs, then lines, then sentences, then words
(only where a piece is too big), packed up to ``chunk_tokens`` with ``overlap_tokens`` of
whole trailing units carried over. Headings are ordinary text here."""

from __future__ import annotations

from ragloop.ingest.chunkers import CHUNKERS, Piece, TokenSizedChunker
from ragloop.ingest.chunkers.units import Span, enforce_limit, pack, units_under
from ragloop.records import Document


def split_recursive(text: str, span: Span, target: int, overlap: int, limit: int,
                    count) -> list[Span]:
    units, counts = units_under(text, span, target, count)
    return enforce_limit(text, pack(units, counts, target, overlap), limit, count)


@CHUNKERS.register
class RecursiveChunker(TokenSizedChunker):
    name = "recursive"

    def split(self, document: Document, limit: int) -> list[Piece]:
        target = min(self.target, limit)
        spans = split_recursive(document.text, (0, len(document.text)), target,
                                min(self.overlap, target // 2), limit, self.count)
        return [Piece(s, e) for s, e in spans]
