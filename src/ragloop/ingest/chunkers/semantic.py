"""Semantic chunking: sentences are embedded and a chunk ends where the next sentence is
unlike the last (cosine similarity below ``semantic_threshold``), or where the next sentence
would take it over ``chunk_tokens``; ``limit`` is a hard maximum. Works inside structural
regions, so it never crosses a heading either."""

from __future__ import annotations

import numpy as np

from ragloop.config import IngestSettings
from ragloop.ingest.chunkers import CHUNKERS, Piece, TokenSizedChunker
from ragloop.ingest.chunkers.structure import regions
from ragloop.ingest.chunkers.units import SENTENCES, enforce_limit, units_under
from ragloop.models.embedder import Embedder
from ragloop.records import Document


@CHUNKERS.register
class SemanticChunker(TokenSizedChunker):
    name = "semantic"

    def __init__(self, settings: IngestSettings, embedder: Embedder):
        super().__init__(settings, embedder)
        self.threshold = settings.semantic_threshold
        self.embedder = embedder

    def split(self, document: Document, limit: int) -> list[Piece]:
        target = min(self.target, limit)
        text = document.text
        out: list[Piece] = []
        for region in regions(document):
            # sentences first: paragraphs are not the unit of meaning here
            units, counts = [], []
            for para, _ in zip(*units_under(text, (region.start, region.end), target,
                                            self.count), strict=True):
                sub, sub_counts = units_under(text, para, target, self.count, level=SENTENCES)
                units += sub
                counts += sub_counts
            if not units:
                continue
            vectors = self.embedder.embed_passages([text[s:e] for s, e in units])
            similar = np.einsum("ij,ij->i", vectors[:-1], vectors[1:]) >= self.threshold
            spans, first, size = [], 0, counts[0]
            for i in range(1, len(units)):
                if not similar[i - 1] or size + counts[i] > target:
                    spans.append((units[first][0], units[i - 1][1]))
                    first, size = i, 0
                size += counts[i]
            spans.append((units[first][0], units[-1][1]))
            out += [Piece(s, e, region.section_path)
                    for s, e in enforce_limit(text, spans, limit, self.count)]
        return out
