"""Cutting text into units (paragraphs, lines, sentences, words) and packing units into
chunks by token count. Every span is a (start, end) pair of offsets into the document text;
chunkers never copy or rewrite text, so a chunk is always an exact slice of its document.

Sizes are measured with the embedder's tokenizer. Each unit is counted once and a chunk's
size is the sum of its units (exact for WordPiece, whose pre-tokenizer splits on spaces; a
close estimate for BPE); ``enforce_limit`` then measures every packed chunk and splits any
that is over the hard limit, so the limit holds whatever the tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

Span = tuple[int, int]
CountBatch = Callable[[Sequence[str]], list[int]]

_SEPARATORS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\n\s*\n"),  # paragraphs
    re.compile(r"\n"),  # lines
    re.compile(r"(?<=[.!?;:])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])"),  # sentences
    re.compile(r"\s+"),  # words
)
PARAGRAPHS, LINES, SENTENCES, WORDS = range(len(_SEPARATORS))


WINDOW_CHARS_PER_TOKEN = 8  # no tokenizer we ship averages more characters per token
SLICE_CHARS = 1 << 18  # characters handed to the tokenizer in one call


def bounded_counter(count: CountBatch, cap: int) -> CountBatch:
    """``count`` that never tokenises a huge text whole: exact up to ``cap`` tokens; above
    it, some number over ``cap``. Chunkers only compare sizes with limits of at most ``cap``,
    so that is all they need, and a 10 MB single-line record no longer goes to the tokenizer
    in one piece (minutes and gigabytes). A long text's leading window (``cap`` ×
    ``WINDOW_CHARS_PER_TOKEN`` characters, cut at a space) is counted first; only when that
    window holds ``cap`` tokens or fewer is the whole text counted, slice by slice."""
    window = max(64, cap * WINDOW_CHARS_PER_TOKEN)

    def bounded(texts: Sequence[str]) -> list[int]:
        texts = list(texts)
        probes = [t if len(t) <= window else _prefix(t, window) for t in texts]
        counts = _sliced(count, probes)
        for i, text in enumerate(texts):
            if len(text) > window and counts[i] <= cap:
                counts[i] = sum(_sliced(count, _pieces(text, window)))
        return counts

    return bounded


def _prefix(text: str, size: int) -> str:
    cut = text.rfind(" ", 0, size)
    return text[:cut if cut > size // 2 else size]


def _pieces(text: str, size: int) -> list[str]:
    """``text`` cut at spaces into pieces of about ``size`` characters."""
    out, start = [], 0
    while start < len(text):
        end = start + size
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut > start else end
        out.append(text[start:end])
        start = end
    return out


def _sliced(count: CountBatch, texts: list[str]) -> list[int]:
    """``count(texts)`` in calls of at most ``SLICE_CHARS`` characters (one text over that
    goes alone)."""
    out: list[int] = []
    batch: list[str] = []
    size = 0
    for text in texts:
        if batch and size + len(text) > SLICE_CHARS:
            out += count(batch)
            batch, size = [], 0
        batch.append(text)
        size += len(text)
    if batch:
        out += count(batch)
    return out


def split_spans(text: str, start: int, end: int, level: int) -> list[Span]:
    """The non-blank pieces of ``text[start:end]`` between separators of ``level``."""
    out, cursor = [], start
    for match in _SEPARATORS[level].finditer(text, start, end):
        out.append((cursor, match.start()))
        cursor = match.end()
    out.append((cursor, end))
    return [_strip(text, s, e) for s, e in out if text[s:e].strip()]


def _strip(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def hard_cut(text: str, span: Span, limit: int, count: CountBatch) -> list[Span]:
    """Cut one unbreakable unit (a very long 'word') into pieces of at most ``limit``
    tokens by characters, halving until each piece fits."""
    start, end = span
    if end - start <= 1 or count([text[start:end]])[0] <= limit:
        return [span]
    middle = (start + end) // 2
    return hard_cut(text, (start, middle), limit, count) + hard_cut(text, (middle, end), limit,
                                                                    count)


def units_under(text: str, span: Span, limit: int, count: CountBatch,
                level: int = PARAGRAPHS) -> tuple[list[Span], list[int]]:
    """Split ``span`` at the coarsest separators that give units of at most ``limit``
    tokens, going finer (paragraph → line → sentence → word → characters) only for units
    that are too big. Returns the units and their token counts."""
    spans = split_spans(text, span[0], span[1], level)
    counts = count([text[s:e] for s, e in spans]) if spans else []
    out_spans: list[Span] = []
    out_counts: list[int] = []
    for piece, n in zip(spans, counts, strict=True):
        if n <= limit:
            out_spans.append(piece)
            out_counts.append(n)
        elif level < WORDS:
            finer, finer_counts = units_under(text, piece, limit, count, level + 1)
            out_spans += finer
            out_counts += finer_counts
        else:
            cut = hard_cut(text, piece, limit, count)
            out_spans += cut
            out_counts += count([text[s:e] for s, e in cut])
    return out_spans, out_counts


def pack(units: Sequence[Span], counts: Sequence[int], target: int,
         overlap: int = 0) -> list[Span]:
    """Greedily join consecutive units into chunks of at most ``target`` tokens. With
    ``overlap``, a chunk starts with the last units of the one before, up to that many
    tokens, as long as it still gets at least one new unit."""
    chunks: list[Span] = []
    i, n = 0, len(units)
    while i < n:
        j, size = i, 0
        while j < n and (j == i or size + counts[j] <= target):
            size += counts[j]
            j += 1
        chunks.append((units[i][0], units[j - 1][1]))
        if j >= n:
            break
        back, carried = j, 0
        while overlap and back - 1 > i and carried + counts[back - 1] <= overlap \
                and carried + counts[back - 1] + counts[j] <= target:
            back -= 1
            carried += counts[back]
        i = back
    return chunks


def enforce_limit(text: str, spans: list[Span], limit: int, count: CountBatch) -> list[Span]:
    """Measure each chunk for real and split any that is over ``limit`` tokens."""
    if not spans:
        return spans
    sizes = count([text[s:e] for s, e in spans])
    out: list[Span] = []
    for span, size in zip(spans, sizes, strict=True):
        if size <= limit:
            out.append(span)
            continue
        units, unit_counts = units_under(text, span, max(1, limit // 2), count)
        out += enforce_limit(text, pack(units, unit_counts, max(1, limit // 2)), limit, count)
    return out
