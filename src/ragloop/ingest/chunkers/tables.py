"""Markdown tables in a document's text (every loader writes tables so, see
``loaders.tables``) are kept whole: a table is a chunk of its own when it fits the size limit;
a longer one is cut between rows, and every part after the first starts with the table's
header row and rule (``Piece.prefix``), so each chunk shows its rows with their column names.
The text around tables is split as before."""

from __future__ import annotations

import re
from collections.abc import Callable

from ragloop.ingest.chunkers.units import CountBatch, Span, pack

TABLE = re.compile(r"^\|[^\n]*\|[ \t]*\n"  # the header row
                   r"\|(?:[ \t]*:?-{3,}:?[ \t]*\|)+[ \t]*"  # the rule
                   r"(?:\n\|[^\n]*\|[ \t]*)*", re.MULTILINE)  # the rows
Part = tuple[int, int, str]  # start, end, prefix
SplitText = Callable[[Span], list[Span]]


def table_spans(text: str, start: int, end: int) -> list[Span]:
    return [(m.start(), m.end()) for m in TABLE.finditer(text, start, end)]


def split_table(text: str, span: Span, limit: int, count: CountBatch) -> list[Part]:
    """One table as parts of at most ``limit`` tokens, cut between rows, the header row
    and rule repeated at the start of every part after the first."""
    start, end = span
    if count([text[start:end]])[0] <= limit:
        return [(start, end, "")]
    lines, cursor = [], start
    for line in text[start:end].split("\n"):
        lines.append((cursor, cursor + len(line)))
        cursor += len(line) + 1
    head_end = lines[1][1]
    prefix = text[start:head_end] + "\n"
    rows = lines[2:]
    budget = max(1, limit - count([prefix])[0])
    sizes = count([text[s:e] for s, e in rows])
    parts = pack(rows, sizes, budget)
    out: list[Part] = []
    for i, (s, e) in enumerate(parts):
        out.append((start, e, "") if i == 0 else (s, e, prefix))
    return out


def split_with_tables(text: str, span: Span, limit: int, count: CountBatch,
                      split_text: SplitText) -> list[Part]:
    """``span`` split by ``split_text`` outside tables and by ``split_table`` inside them."""
    out: list[Part] = []
    cursor = span[0]
    for t_start, t_end in table_spans(text, span[0], span[1]):
        if text[cursor:t_start].strip():
            out += [(s, e, "") for s, e in split_text((cursor, t_start))]
        out += split_table(text, (t_start, t_end), limit, count)
        cursor = t_end
    if text[cursor:span[1]].strip():
        out += [(s, e, "") for s, e in split_text((cursor, span[1]))]
    return out
