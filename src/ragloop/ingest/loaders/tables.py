"""Tables as Markdown pipe tables: the one form every loader writes a table in (PDF, DOCX,
XLSX, CSV, PPTX), so chunkers can recognise a table in any document's text, keep it whole,
and repeat its header row when a long table must be split (``chunkers.tables``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ragloop.ingest.clean import normalize_text


def cell_text(value: object) -> str:
    """A cell as one line of table text: newlines become spaces, ``|`` is escaped."""
    if value is None:
        return ""
    text = normalize_text(str(value)).replace("\n", " ")
    return text.replace("|", "\\|")


def markdown_row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(cell_text(c) for c in cells) + " |"


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """``header`` and ``rows`` as a pipe table; short rows are padded to the header's width
    and longer ones widen it (the header gets empty names)."""
    rows = [list(r) for r in rows]
    width = max([len(header), *(len(r) for r in rows)]) if rows or header else 0
    header = [*header, *[""] * (width - len(header))]
    lines = [markdown_row(header), "| " + " | ".join(["---"] * width) + " |"]
    lines += [markdown_row([*r, *[""] * (width - len(r))]) for r in rows]
    return "\n".join(lines)
