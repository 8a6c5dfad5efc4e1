"""Page layout from positioned text: spans → rows → columns → blocks (headings, paragraphs,
code, tables), and the running headers and footers a document repeats on its pages.

Pure geometry on ``pdf_chars.Span`` values (PDF points, y up), so the same rules serve a PDF's
text layer and an OCR'd page. The rules, each measured by ``bench/documents.py``:

- a **row** is the spans on one baseline; inside a row, spans closer than ``SPAN_GAP`` font
  sizes form one **cell**, so a row of a table or a line across two columns has several;
- **two columns**: a vertical gutter in the middle of the page that almost no row crosses,
  with wide text on both sides (a table's columns hold short cells and do not qualify); the
  left column is read before the right, between rows that span the page;
- a **table**: three or more consecutive rows of several cells whose cells fall into the same
  vertical bands; a row with one cell in a later band continues the cell above it;
- a **heading**: a short block in a font larger than the body text (levels by size) or a
  short bold line at the body size, not ending like a sentence;
- **paragraphs**: consecutive lines in one font with normal line spacing, joined, with a
  hyphen at a line end removed when the word goes on in lower case;
- **running headers and footers**: rows in the top or bottom margin whose text, digits
  ignored, recurs on several pages, and rows that are only a page number.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from ragloop.ingest.loaders.pdf_chars import SPAN_GAP, Span
from ragloop.ingest.loaders.tables import markdown_table

HEADING_RATIO = 1.12  # a heading's font is at least this much larger than the body's
MAX_HEADING_CHARS = 120
TOP_MARGIN, BOTTOM_MARGIN = 0.12, 0.10  # fractions of the page height
MIN_TABLE_ROWS = 3
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?[-–—(\[]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-–—)\]]?"
                          r"(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_BULLET = re.compile(r"^(?:[•◦▪‣∙·*–-]|\d{1,3}[.)]|[a-z][.)])\s")
_SENTENCE_END = (".", ",", ";", ":", "?", "!")
# an entry of a table of contents or an index: a title, dot leaders or a wide gap, a number
_CONTENTS_ENTRY = re.compile(r"^.{1,200}?(?:\s*(?:\.\s*){3,}|\s)\s*[\divxlc]{1,5}$",
                             re.IGNORECASE)
_LEADERS = re.compile(r"(?:\.\s*){3,}\s*[\divxlc]{1,5}$", re.IGNORECASE)


@dataclass
class Cell:
    spans: list[Span]

    @property
    def x0(self) -> float:
        return self.spans[0].x0

    @property
    def x1(self) -> float:
        return max(s.x1 for s in self.spans)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.spans)


@dataclass
class Row:
    cells: list[Cell]
    baseline: float
    size: float

    @property
    def x0(self) -> float:
        return self.cells[0].x0

    @property
    def x1(self) -> float:
        return max(c.x1 for c in self.cells)

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.cells)

    @property
    def spans(self) -> list[Span]:
        return [s for c in self.cells for s in c.spans]

    @property
    def bold(self) -> bool:
        return all(s.bold for s in self.spans)

    @property
    def mono(self) -> bool:
        return all(s.mono for s in self.spans)


@dataclass
class Block:
    kind: str  # "heading", "paragraph", "code", "table"
    text: str = ""
    level: int = 0
    header: list[str] = field(default_factory=list)  # tables
    rows: list[list[str]] = field(default_factory=list)
    top: float = 0.0  # baseline of the first line, for placing bookmarks

    def markdown(self) -> str:
        return markdown_table(self.header, self.rows) if self.kind == "table" else self.text


# ----------------------------------------------------------------------------- rows


def rows_of(spans: Sequence[Span]) -> list[Row]:
    """Spans grouped by baseline, top to bottom; each row's spans left to right, in cells."""
    rows: list[Row] = []
    for span in sorted(spans, key=lambda s: (-s.baseline, s.x0)):
        if rows and abs(rows[-1].baseline - span.baseline) <= 0.35 * max(rows[-1].size,
                                                                           span.size):
            rows[-1].cells.append(Cell([span]))
            rows[-1].size = max(rows[-1].size, span.size)
        else:
            rows.append(Row([Cell([span])], span.baseline, span.size))
    for row in rows:
        row.cells = _cells(sorted((s for c in row.cells for s in c.spans), key=lambda s: s.x0))
    return rows


def _cells(spans: list[Span]) -> list[Cell]:
    cells: list[Cell] = []
    for span in spans:
        if cells and span.x0 - cells[-1].x1 <= SPAN_GAP * max(span.size, 1.0):
            cells[-1].spans.append(span)
        else:
            cells.append(Cell([span]))
    return cells


def _split_row(row: Row, x: float) -> tuple[Row | None, Row | None]:
    left = [c for c in row.cells if c.x1 <= x]
    right = [c for c in row.cells if c.x0 >= x]
    return (Row(left, row.baseline, row.size) if left else None,
            Row(right, row.baseline, row.size) if right else None)


# ----------------------------------------------------------------------------- headers/footers


def normalized(text: str) -> str:
    return " ".join(_DIGITS.sub("#", text.lower()).split())


def running_rows(pages: Sequence[Sequence[Row]], heights: Sequence[float],
                 min_pages: int = 3) -> tuple[list[set[int]], Counter]:
    """For each page, the indexes of its rows that are running headers or footers or page
    numbers; and, for an example of each running text, the pages it was removed from. A text
    (digits ignored) counts as running when it stands among the first or last two rows,
    inside the top or bottom margin and set apart from the rows next to it, at the same
    height on at least ``min_pages`` pages (all pages when the document has fewer)."""
    candidates: list[list[tuple[int, str]]] = []
    seen: Counter = Counter()
    for rows, height in zip(pages, heights, strict=True):
        found = []
        edge = set(range(min(2, len(rows)))) | set(range(max(0, len(rows) - 2), len(rows)))
        for i in sorted(edge):
            row = rows[i]
            # apart from the body: a body line that happens to start pages is not
            apart = all(abs(row.baseline - rows[j].baseline) > 1.8 * row.size
                        for j in (i - 1, i + 1) if 0 <= j < len(rows))
            in_margin = row.baseline >= height * (1 - TOP_MARGIN) \
                or row.baseline <= height * BOTTOM_MARGIN
            if apart and in_margin:
                # the same text at the same height: a body line at the top of a page moves
                found.append((i, f"{normalized(row.text)}@{round(row.baseline / 3)}"))
        candidates.append(found)
        seen.update({key for _, key in found})
    needed = min(min_pages, len(pages))
    removed: list[set[int]] = []
    counts: Counter = Counter()  # an example of each running text → pages it was removed on
    examples: dict[str, str] = {}
    for found, rows in zip(candidates, pages, strict=True):
        drop = set()
        for i, key in found:
            text = rows[i].text.strip()
            if (needed > 1 and seen[key] >= needed) or _PAGE_NUMBER.match(text):
                drop.add(i)
                counts[examples.setdefault(key, text)] += 1
        removed.append(drop)
    return removed, counts


def is_contents_page(rows: Sequence[Row]) -> bool:
    """A page of a table of contents or an index: most rows end in a page number after dot
    leaders, or after a gap (two cells)."""
    if len(rows) < 5:
        return False
    entries = sum(1 for r in rows if _LEADERS.search(r.text)
                  or (len(r.cells) >= 2 and _CONTENTS_ENTRY.match(r.text)
                      and r.cells[-1].text.strip().isdigit()))
    return entries >= 0.6 * len(rows)


# ----------------------------------------------------------------------------- columns


def columns(rows: Sequence[Row]) -> list[Row]:
    """The rows in reading order: where the page has two columns of text, each stretch
    between full-width rows is read left column first."""
    gutter = _gutter(rows)
    if gutter is None:
        return list(rows)
    ordered: list[Row] = []
    left: list[Row] = []
    right: list[Row] = []
    for row in rows:
        if any(c.x0 < gutter < c.x1 for c in row.cells):
            ordered += left + right + [row]
            left, right = [], []
            continue
        a, b = _split_row(row, gutter)
        if a:
            left.append(a)
        if b:
            right.append(b)
    return ordered + left + right


def _gutter(rows: Sequence[Row]) -> float | None:
    if len(rows) < 6:
        return None
    lo = min(r.x0 for r in rows)
    hi = max(r.x1 for r in rows)
    width = hi - lo
    if width <= 0:
        return None
    best = None
    for step in range(30, 71):
        x = lo + width * step / 100
        crossing = sum(1 for r in rows if any(c.x0 < x < c.x1 for c in r.cells))
        if best is None or crossing < best[0]:
            best = (crossing, x)
    crossing, x = best
    if crossing > 0.15 * len(rows):
        return None
    left = [max(c.x1 for c in r.cells if c.x1 <= x) - r.x0 for r in rows
            if any(c.x1 <= x for c in r.cells)]
    right = [max(c.x1 for c in r.cells) - min(c.x0 for c in r.cells if c.x0 >= x)
             for r in rows if any(c.x0 >= x for c in r.cells)]
    if len(left) < 0.4 * len(rows) or len(right) < 0.4 * len(rows):
        return None
    if statistics.median(left) < 0.6 * (x - lo) or statistics.median(right) < 0.6 * (hi - x):
        return None  # short cells on either side: a table, not columns of text
    single = sum(1 for r in rows if sum(1 for c in r.cells if c.x1 <= x) == 1) \
        + sum(1 for r in rows if sum(1 for c in r.cells if c.x0 >= x) == 1)
    if single < 0.7 * (len(left) + len(right)):
        return None  # several cells on a side: a table's rows, not lines of text
    return x


# ----------------------------------------------------------------------------- tables


def _bands(rows: Sequence[Row]) -> list[tuple[float, float]]:
    """Vertical bands (x intervals) that the cells of table rows fall into."""
    counts = Counter(len(r.cells) for r in rows if len(r.cells) >= 2)
    typical = counts.most_common(1)[0][0]
    intervals = sorted((c.x0, c.x1) for r in rows if len(r.cells) == typical for c in r.cells)
    bands: list[list[float]] = []
    for x0, x1 in intervals:
        if bands and x0 < bands[-1][1] - 0.5:
            bands[-1][1] = max(bands[-1][1], x1)
        else:
            bands.append([x0, x1])
    return [(a, b) for a, b in bands]


def _band_of(cell: Cell, bands: Sequence[tuple[float, float]]) -> int:
    def overlap(band: tuple[float, float]) -> float:
        return min(cell.x1, band[1]) - max(cell.x0, band[0])
    scores = [overlap(b) for b in bands]
    best = max(range(len(bands)), key=lambda i: scores[i])
    if scores[best] > 0:
        return best
    # no overlap: the band nearest to the cell's start
    return min(range(len(bands)), key=lambda i: abs(bands[i][0] - cell.x0))


def _table(rows: Sequence[Row]) -> Block | None:
    bands = _bands(rows)
    if len(bands) < 2:
        return None
    table: list[list[str]] = []
    for row in rows:
        placed = [""] * len(bands)
        for cell in row.cells:
            i = _band_of(cell, bands)
            placed[i] = f"{placed[i]} {cell.text}".strip()
        if len(row.cells) == 1 and table and _band_of(row.cells[0], bands) > 0:
            i = _band_of(row.cells[0], bands)  # a wrapped cell goes on under the one above
            table[-1][i] = f"{table[-1][i]} {row.cells[0].text}".strip()
            continue
        table.append(placed)
    if sum(1 for r in table if sum(1 for c in r if c) >= 2) < MIN_TABLE_ROWS:
        return None
    return Block("table", header=table[0], rows=table[1:], top=rows[0].baseline)


def _table_runs(rows: Sequence[Row]) -> list[tuple[int, int]]:
    """(first, end) index ranges of rows that may form a table."""
    runs = []
    i = 0
    while i < len(rows):
        if len(rows[i].cells) < 2 or rows[i].mono:
            i += 1
            continue
        j = i + 1
        while j < len(rows):
            step = rows[j - 1].baseline - rows[j].baseline
            if step > 3.2 * rows[j].size:
                break
            if len(rows[j].cells) >= 2:
                j += 1
            elif rows[j].x0 > rows[i].cells[0].x1 + rows[j].size and j + 1 < len(rows) \
                    and len(rows[j + 1].cells) >= 2:
                j += 1  # a wrapped cell of a later column
            else:
                break
        if sum(1 for r in rows[i:j] if len(r.cells) >= 2) >= MIN_TABLE_ROWS:
            runs.append((i, j))
        i = j
    return runs


# ----------------------------------------------------------------------------- blocks


def dehyphenate_join(lines: Sequence[str]) -> str:
    """Lines of one paragraph as one text: a hyphen at a line end is dropped when the word
    goes on in lower case on the next line ("infor-" + "mation"); other lines join with a
    space."""
    out = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha() and line[:1].islower():
            out = out[:-1] + line
        else:
            out = f"{out} {line}" if out else line
    return out


def blocks_of(rows: Sequence[Row], body_size: float, heading_sizes: Sequence[float]
              ) -> list[Block]:
    """The blocks of one page's rows (already in reading order). ``heading_sizes``: the
    document's heading font sizes, largest first (level 1 = the largest)."""
    out: list[Block] = []
    runs = _table_runs(rows)
    i = 0
    run_iter = iter(runs)
    next_run = next(run_iter, None)
    paragraph: list[Row] = []

    def flush() -> None:
        if paragraph:
            out.append(_text_block(paragraph, body_size, heading_sizes))
            paragraph.clear()

    while i < len(rows):
        if next_run is not None and i == next_run[0]:
            table = _table(rows[next_run[0]:next_run[1]])
            if table is not None:
                flush()
                out.append(table)
                i = next_run[1]
                next_run = next(run_iter, None)
                continue
            next_run = next(run_iter, None)
        row = rows[i]
        if paragraph and _breaks(paragraph[-1], row, paragraph[0].x0, body_size):
            flush()
        paragraph.append(row)
        i += 1
    flush()
    return [b for b in out if b.text or b.kind == "table"]


def _is_heading_row(row: Row, body_size: float) -> bool:
    text = row.text.strip()
    if len(text) > MAX_HEADING_CHARS or row.mono or not any(ch.isalpha() for ch in text):
        return False
    if row.size >= body_size * HEADING_RATIO:
        return True
    return row.bold and not text.endswith(_SENTENCE_END) and len(text.split()) <= 12


def _breaks(previous: Row, row: Row, left: float, body_size: float) -> bool:
    """Whether ``row`` starts a new block after ``previous``."""
    step = previous.baseline - row.baseline
    size = max(previous.size, row.size)
    if step > 1.55 * size or step < 0 or abs(previous.size - row.size) > 0.6:
        return True
    if previous.mono != row.mono:
        return True
    if _is_heading_row(previous, body_size) != _is_heading_row(row, body_size):
        return True
    if previous.mono:
        return False
    if _BULLET.match(row.text):
        return True
    # a first-line indent after a line that started at the left edge
    return row.x0 > left + 0.8 * size and previous.x0 <= left + 0.3 * size


def _text_block(rows: list[Row], body_size: float, heading_sizes: Sequence[float]) -> Block:
    top = rows[0].baseline
    if rows[0].mono:
        indent = min(r.x0 for r in rows)
        width = statistics.median([s.size * 0.6 for r in rows for s in r.spans]) or 1.0
        lines = [" " * max(0, round((r.x0 - indent) / width)) + r.text for r in rows]
        return Block("code", "\n".join(lines), top=top)
    text = dehyphenate_join([r.text for r in rows])
    if len(rows) <= 3 and all(_is_heading_row(r, body_size) for r in rows):
        return Block("heading", text, level=heading_level(rows[0], body_size, heading_sizes),
                     top=top)
    return Block("paragraph", text, top=top)


def heading_level(row: Row, body_size: float, heading_sizes: Sequence[float]) -> int:
    if row.size >= body_size * HEADING_RATIO:
        for level, size in enumerate(heading_sizes, start=1):
            if row.size >= size - 0.5:
                return min(level, 6)
    return min(len(heading_sizes) + 1, 6)


def size_profile(pages: Sequence[Sequence[Row]]) -> tuple[float, list[float]]:
    """(body font size, heading font sizes largest first): the body size is the one most of
    the text is set in; heading sizes are the larger sizes of short rows."""
    weights: Counter = Counter()
    for rows in pages:
        for row in rows:
            for span in row.spans:
                weights[round(span.size * 2) / 2] += len(span.text)
    if not weights:
        return 10.0, []
    body = weights.most_common(1)[0][0]
    sizes: Counter = Counter()
    for rows in pages:
        for row in rows:
            if row.size >= body * HEADING_RATIO and len(row.text) <= MAX_HEADING_CHARS:
                sizes[round(row.size * 2) / 2] += 1
    return body, sorted(sizes, reverse=True)
