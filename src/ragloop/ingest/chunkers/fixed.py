"""Fixed-size windows of ``chunk_tokens`` tokens overlapping by ``overlap_tokens``, cut at
word boundaries, ignoring sentences and headings."""

from __future__ import annotations

from ragloop.ingest.chunkers import CHUNKERS, Piece, TokenSizedChunker
from ragloop.ingest.chunkers.units import WORDS, enforce_limit, pack, units_under
from ragloop.records import Document


@CHUNKERS.register
class FixedTokenChunker(TokenSizedChunker):
    name = "fixed"

    def split(self, document: Document, limit: int) -> list[Piece]:
        target = min(self.target, limit)
        text = document.text
        words, counts = units_under(text, (0, len(text)), target, self.count, level=WORDS)
        spans = pack(words, counts, target, min(self.overlap, target // 2))
        return [Piece(s, e) for s, e in enforce_limit(text, spans, limit, self.count)]
