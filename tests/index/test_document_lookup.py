"""A document's text rebuilt from its chunks (the MCP document resource): overlap written
once, a section's heading written where the chunker left it between chunks."""

from __future__ import annotations

from ragloop.index.documents import document_text
from ragloop.records import Chunk

TEXT = "# Tides\n\nThe Moon pulls the oceans. The Sun pulls less.\n\n## Springs\n\nBoth align."


def _chunk(ordinal: int, start: int, end: int, section: tuple[str, ...]) -> Chunk:
    return Chunk(id=f"d#{ordinal}", doc_id="d", ordinal=ordinal, text=TEXT[start:end],
                 start=start, end=end, section_path=section)


def test_overlap_is_written_once_and_a_missing_heading_is_restored():
    first_end = TEXT.index(" The Sun") + len(" The Sun")
    overlap_start = TEXT.index("The Sun")
    springs = TEXT.index("Both")
    chunks = [_chunk(2, springs, len(TEXT), ("Tides", "Springs")),  # out of order on purpose
              _chunk(0, 0, first_end, ("Tides",)),
              _chunk(1, overlap_start, TEXT.index("\n\n## Springs"), ("Tides",))]
    assert document_text(chunks) == (
        "# Tides\n\nThe Moon pulls the oceans. The Sun pulls less.\n\n## Springs\n\nBoth align.")


def test_chunks_without_spans_are_joined_as_they_are():
    chunks = [Chunk(id="d#0", doc_id="d", ordinal=0, text="One.", section_path=("A",)),
              Chunk(id="d#1", doc_id="d", ordinal=1, text="Two.", section_path=("A",))]
    assert document_text(chunks) == "# A\n\nOne.\n\nTwo."
