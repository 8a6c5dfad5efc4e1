"""Documents → ``Chunk`` records: the configured chunker cuts the text, and each chunk gets
its deterministic header (document title and section path) and its dense and lexical texts
composed from ``[ingest] dense_fields`` / ``lexical_fields``.

The size limit is the embedder's: header + context + text of the dense text never exceed
``embedder.max_tokens`` (less the two special tokens a BERT-style model adds). When
contextual enrichment is on, room for the context is reserved before the text is cut.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ragloop.config import IngestSettings
from ragloop.ingest.chunkers import Piece, build_chunker
from ragloop.ingest.loaders import page_of
from ragloop.models.embedder import Embedder
from ragloop.records import Chunk, Document

SPECIAL_TOKENS = 2  # [CLS] and [SEP]; count_tokens leaves them out
FIELD_MARGIN = 2  # a BPE tokenizer may spend a token on each field separator


def place_metadata(document: Document, piece: Piece) -> dict:
    """Where a chunk sits, for citations: "p. 3" or "pp. 3-4" in paged formats, else its
    section path ("Slide 2: Results", "Sheet Sales", "Install > Linux")."""
    first = page_of(document, piece.start)
    last = page_of(document, max(piece.start, piece.end - 1))
    if first is not None:
        return {"place": f"p. {first}" if first == last else f"pp. {first}-{last}"}
    if piece.section_path:
        return {"place": " > ".join(piece.section_path)}
    return {}


def compose(fields: Sequence[str], header: str, context: str, text: str) -> str:
    parts = {"header": header, "context": context, "text": text}
    return "\n".join(parts[f] for f in fields if parts[f])


def header_for(title: str, section_path: Sequence[str]) -> str:
    parts = [title, *section_path]
    return " > ".join(p for i, p in enumerate(parts) if p and (i == 0 or p != parts[i - 1]))


def fit_tokens(text: str, limit: int, count: Callable[[str], int], *,
               keep_end: bool = False) -> str:
    """``text`` cut at a word boundary to at most ``limit`` tokens (whole if it fits),
    keeping its beginning, or its end with ``keep_end``."""
    if limit <= 0:
        return ""
    if count(text) <= limit:
        return text
    words = text.split()

    def part(n: int) -> str:
        return " ".join(words[len(words) - n:] if keep_end else words[:n])

    low, high = 0, len(words)
    while low < high:  # the most words that fit
        mid = (low + high + 1) // 2
        if count(part(mid)) <= limit:
            low = mid
        else:
            high = mid - 1
    return part(low)


class ChunkBuilder:
    def __init__(self, settings: IngestSettings, embedder: Embedder, *, contextual: bool):
        self.settings = settings
        self.embedder = embedder
        self.chunker = build_chunker(settings, embedder)
        self.capacity = embedder.max_tokens - SPECIAL_TOKENS - FIELD_MARGIN
        uses_context = contextual and "context" in settings.dense_fields
        self.context_reserve = min(64, self.capacity // 4) if uses_context else 0
        self.header_cap = self.capacity // 4
        self.fields_meta = {"dense_fields": list(settings.dense_fields),
                            "lexical_fields": list(settings.lexical_fields),
                            "chunker": settings.chunker}

    def _headers(self, document: Document) -> dict[tuple[str, ...], str]:
        """Header of every section path the document has, cut to ``header_cap`` tokens."""
        paths: set[tuple[str, ...]] = {()}
        for section in document.sections:
            holders = sorted((s for s in document.sections
                              if s.start <= section.start < s.end), key=lambda s: s.level)
            paths.add(tuple(s.title for s in holders))
        return {path: fit_tokens(header_for(document.title, path), self.header_cap,
                                 self.embedder.count_tokens) for path in paths}

    def chunks(self, document: Document) -> list[Chunk]:
        headers = self._headers(document)
        uses_header = "header" in self.settings.dense_fields
        header_tokens = max(self.embedder.count_tokens_batch(list(headers.values()))) \
            if uses_header else 0
        limit = max(8, self.capacity - header_tokens - self.context_reserve)
        pieces = self.chunker.split(document, limit)
        return [self._chunk(document, i, piece, headers) for i, piece in enumerate(pieces)]

    def _chunk(self, document: Document, ordinal: int, piece: Piece,
               headers: dict[tuple[str, ...], str]) -> Chunk:
        # a chunk is its slice of the document, after the repeated header row of a table cut
        # between rows (only such parts have a prefix)
        text = piece.prefix + document.text[piece.start:piece.end]
        header = headers.get(piece.section_path) or header_for(document.title,
                                                               piece.section_path)
        return Chunk(id=f"{document.id}#{ordinal}", doc_id=document.id, ordinal=ordinal,
                     text=text, start=piece.start, end=piece.end,
                     section_path=piece.section_path, page=page_of(document, piece.start),
                     page_end=page_of(document, max(piece.start, piece.end - 1)),
                     header=header,
                     dense_text=compose(self.settings.dense_fields, header, "", text),
                     lexical_text=compose(self.settings.lexical_fields, header, "", text),
                     # source and title travel with the chunk so a citation can name them
                     metadata={**self.fields_meta, "source": document.source,
                               "title": document.title,
                               **place_metadata(document, piece)})

    def with_context(self, chunk: Chunk, context: str) -> Chunk:
        """The chunk with its situating context, cut to the room left under the limit."""
        used = self.embedder.count_tokens(compose(self.settings.dense_fields, chunk.header,
                                                  "", chunk.text))
        if "context" in self.settings.dense_fields:
            context = fit_tokens(context, self.capacity - used, self.embedder.count_tokens)
        return chunk.model_copy(update={
            "context": context,
            "dense_text": compose(self.settings.dense_fields, chunk.header, context,
                                  chunk.text),
            "lexical_text": compose(self.settings.lexical_fields, chunk.header, context,
                                    chunk.text)})

    def measured(self, chunks: list[Chunk]) -> list[Chunk]:
        """Chunks with ``n_tokens`` set to the size of their dense text."""
        sizes = self.embedder.count_tokens_batch([c.dense_text for c in chunks]) \
            if chunks else []
        return [c.model_copy(update={"n_tokens": n}) for c, n in zip(chunks, sizes,
                                                                      strict=True)]
