"""The loader protocol, the registry of loaders by file suffix, and the pieces every loader
shares: building a ``Document`` from cleaned pieces, and decoding text bytes honestly.

A new format is a new module in this package that defines a class implementing ``Loader``
and decorates it with ``@register``; the package imports every module in it.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from charset_normalizer import from_bytes

from ragloop.errors import IngestError
from ragloop.ingest.clean import normalize_text
from ragloop.records import Document, Section, content_hash

LoadItem = Document | IngestError  # a loader yields documents, and errors for bad records


@runtime_checkable
class Loader(Protocol):
    suffixes: tuple[str, ...]  # lower-case, with the dot: (".md", ".markdown")
    # True when one file holds many documents; such loaders read record by record and the
    # size limit applies per record, not to the whole file
    multi_document: bool

    def load(self, path: Path, data: bytes | None) -> Iterator[LoadItem]:
        """Yield the file's documents. ``data`` is the file's bytes, or None for
        multi-document loaders, which stream the file themselves. Raise ``IngestError``
        when the whole file is unusable; yield one for a single bad record."""
        ...


LOADERS: dict[str, Loader] = {}


def register(cls: type) -> type:
    loader = cls()
    for suffix in loader.suffixes:
        LOADERS[suffix] = loader
    return cls


def file_doc_id(path: Path) -> str:
    """Stable id of the one document a file holds: a hash of its absolute path."""
    return "f" + hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:16]


class DocumentBuilder:
    """Assembles a document from headings, paragraphs and page breaks, cleaning each piece,
    so ``Section`` spans and page offsets index the final text."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._headings: list[tuple[int, str, int]] = []
        self._pages: list[int] = []

    def _append(self, text: str) -> int | None:
        text = normalize_text(text)
        if not text:
            return None
        if self._parts:
            self._parts.append("\n\n")
            self._length += 2
        start = self._length
        self._parts.append(text)
        self._length += len(text)
        return start

    def heading(self, level: int, title: str) -> None:
        title = normalize_text(title).replace("\n", " ")
        start = self._append(title)
        if start is not None:
            self._headings.append((max(1, level), title, start))

    def mark_section(self, level: int, title: str) -> None:
        """A heading known from outside the text (a PDF bookmark): a section starts at the
        current end of the text, and the title is not added to the text."""
        title = normalize_text(title).replace("\n", " ")
        if title:
            start = self._length + (2 if self._parts else 0)
            self._headings.append((max(1, level), title, start))

    def paragraph(self, text: str) -> None:
        self._append(text)

    def page(self) -> None:
        """Mark the start of a new page at the current end of the text."""
        self._pages.append(self._length + (2 if self._parts else 0))

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def sections(self) -> tuple[Section, ...]:
        """A section runs from its heading to the next heading of the same or a higher
        level, so it contains its subsections."""
        out = []
        for i, (level, title, start) in enumerate(self._headings):
            end = self._length
            for other_level, _, other_start in self._headings[i + 1:]:
                if other_level <= level:
                    end = other_start
                    break
            out.append(Section(level=level, title=title, start=start,
                               end=max(start, min(end, self._length))))
        return tuple(out)

    def build(self, *, doc_id: str, source: str, title: str, mtime: float | None,
              metadata: dict) -> Document:
        text = self.text
        if not text.strip():
            raise IngestError(source, "no text found in the file")
        pages = tuple(min(p, len(text)) for p in self._pages)
        return Document(id=doc_id, source=source, title=normalize_text(title) or source,
                        text=text, content_hash=content_hash(f"{title}\n{text}"), mtime=mtime,
                        sections=self.sections(), pages=pages, metadata=metadata)


def file_metadata(path: Path, data: bytes | None) -> dict:
    meta = {"path": str(path.resolve()), "format": path.suffix.lower().lstrip(".")}
    if data is not None:
        meta["file_hash"] = hashlib.sha256(data).hexdigest()
    return meta


def page_of(document: Document, offset: int) -> int | None:
    """1-based page holding ``offset``, or None for documents without pages."""
    if not document.pages:
        return None
    return max(1, bisect.bisect_right(document.pages, offset))


# ----------------------------------------------------------------------------- decoding

_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return controls > len(sample) * 0.1


def decode_text(path: Path, data: bytes, warn: Callable[[str], None]) -> tuple[str, str]:
    """Decode text bytes: a BOM or UTF-8 when valid; otherwise the encoding detected by
    ``charset-normalizer``, which is reported through ``warn``. Binary data is an error,
    never mangled into text. Returns (text, encoding)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding), encoding
    if looks_binary(data):
        raise IngestError(path, "binary content, not text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as err:
        utf8_error = err
    best = from_bytes(data).best()
    # Short texts leave the detector torn between code pages of equal fit; Western
    # European cp1252 is by far the most common legacy encoding, so it wins a tie.
    western = from_bytes(data, cp_isolation=["cp1252"]).best()
    if western is not None and (best is None or western.chaos <= best.chaos):
        best = western
    if best is None:
        raise IngestError(path, f"not UTF-8 ({utf8_error.reason} at byte {utf8_error.start}) "
                                "and no other encoding could be detected")
    warn(f"not UTF-8 (invalid byte at {utf8_error.start}); decoded as {best.encoding} "
         "(detected)")
    return str(best), best.encoding


def read_text_file(path: Path, data: bytes | None) -> tuple[str, dict]:
    """A text file's decoded text and its metadata, any decoding warning recorded in it."""
    meta = file_metadata(path, data)
    warnings: list[str] = []
    text, meta["encoding"] = decode_text(path, data or b"", warnings.append)
    if warnings:
        meta["warnings"] = warnings
    return text, meta
