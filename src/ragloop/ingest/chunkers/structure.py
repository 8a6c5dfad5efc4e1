"""Structure-aware chunking: the document is first cut at every heading, so no chunk
crosses one and each carries its section path; each region is then split recursively, and
its tables are kept whole or cut between rows with the header repeated (``tables``)."""

from __future__ import annotations

from ragloop.ingest.chunkers import CHUNKERS, Piece, TokenSizedChunker
from ragloop.ingest.chunkers.recursive import split_recursive
from ragloop.ingest.chunkers.tables import split_with_tables
from ragloop.records import Document


def regions(document: Document) -> list[Piece]:
    """Spans between consecutive headings with the titles of the sections holding them.
    The heading line itself is left out of the span: its title is in the section path, and
    so in every chunk's header. A region with nothing but its heading is dropped."""
    text = document.text
    cuts = sorted({0, len(text), *(s.start for s in document.sections)})
    out = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        holders = sorted((s for s in document.sections if s.start <= start < s.end),
                         key=lambda s: (s.level, s.start))
        heading = next((s for s in document.sections if s.start == start), None)
        body_start = start
        if heading is not None and text.startswith(heading.title, start):
            body_start = start + len(heading.title)
        if text[body_start:end].strip():
            out.append(Piece(body_start, end, tuple(s.title for s in holders)))
    return out


@CHUNKERS.register
class StructureChunker(TokenSizedChunker):
    name = "structure"
    version = 2  # 1: Markdown tables cut like prose, without their header row

    def split(self, document: Document, limit: int) -> list[Piece]:
        target = min(self.target, limit)
        overlap = min(self.overlap, target // 2)
        text = document.text

        def split_text(span):
            return split_recursive(text, span, target, overlap, limit, self.count)

        return [Piece(s, e, region.section_path, prefix)
                for region in regions(document)
                for s, e, prefix in split_with_tables(text, (region.start, region.end), limit,
                                                      self.count, split_text)]
