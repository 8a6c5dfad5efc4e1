"""Sentence-aware recursive splitting: paragraphs, then lines, then sentences, then words
(only where a piece is too big), packed up to ``chunk_tokens`` with ``overlap_tokens`` of
whole trailing units carried over. Headings are ordinary text here; tables are kept whole or
cut between rows with the header repeated (``tables``)."""

from __future__ import annotations

from ragloop.ingest.chunkers import CHUNKERS, Piece, TokenSizedChunker
from ragloop.ingest.chunkers.tables import split_with_tables
from ragloop.ingest.chunkers.units import Span, enforce_limit, pack, units_under
from ragloop.records import Document


def split_recursive(text: str, span: Span, target: int, overlap: int, limit: int,
                    count) -> list[Span]:
    units, counts = units_under(text, span, target, count)
    return enforce_limit(text, pack(units, counts, target, overlap), limit, count)


@CHUNKERS.register
class RecursiveChunker(TokenSizedChunker):
    name = "recursive"
    version = 2  # 1: Markdown tables cut like prose, without their header row

    def split(self, document: Document, limit: int) -> list[Piece]:
        target = min(self.target, limit)
        text = document.text
        overlap = min(self.overlap, target // 2)

        def split_text(span):
            return split_recursive(text, span, target, overlap, limit, self.count)

        return [Piece(s, e, (), prefix) for s, e, prefix in
                split_with_tables(text, (0, len(text)), limit, self.count, split_text)]
