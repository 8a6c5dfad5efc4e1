"""The loader protocol, the registry of loaders by file suffix, and the pieces every loader
shares: building a ``Document`` from cleaned pieces, and decoding text bytes honestly.

A new format is a new module in this package that defines a class implementing ``Loader``
and decorates it with ``@LOADERS.register``; the registry imports every module in this
package.
"""

from __future__ import annotations

import bisect
import codecs
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from charset_normalizer import from_bytes
from charset_normalizer.md import mess_ratio

from ragloop.errors import IngestError
from ragloop.ingest.clean import normalize_text
from ragloop.records import Document, Section, content_hash
from ragloop.registry import Registry

LoadItem = Document | IngestError  # a loader yields documents, and errors for bad records
MB = 1024 * 1024


@dataclass(frozen=True)
class LoadLimits:
    """What one file may cost to read, from ``[ingest]``: the bytes on disk are checked before
    a loader runs; what a file expands to (a zip-based format's members, a record of a
    multi-document file, the text and drawing objects of a PDF's pages) is checked by the
    loader while it parses, so a small file that expands without end is refused early. OCR
    is the costliest reading there is, so whether and how much of it runs is set here too."""

    max_file_bytes: int = 20 * MB  # a single-document file on disk; one record of the others
    max_unpacked_bytes: int = 100 * MB  # all members of a zip-based file, uncompressed
    max_archive_members: int = 10_000
    max_text_chars: int = 4_000_000  # [ingest] max_record_chars: text one document may hold
    max_table_rows: int = 100_000
    ocr: str = "auto"  # "auto" or "off"
    ocr_dpi: int = 200
    ocr_min_confidence: float = 0.8
    ocr_max_pages: int = 200


@runtime_checkable
class Loader(Protocol):
    suffixes: tuple[str, ...]  # lower-case, with the dot: (".md", ".markdown")
    # True when one file holds many documents; such loaders read record by record and the
    # size limit applies per record, not to the whole file
    multi_document: bool
    # Raise it when a change to the loader changes what it makes of the same bytes: files
    # skipped as unchanged by their bytes are then parsed again (``file_key``).
    version: int

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        """Yield the file's documents. ``data`` is the file's bytes, or None for
        multi-document loaders, which stream the file themselves. Raise ``IngestError``
        when the whole file is unusable (over ``limits`` too); yield one for a single bad
        record."""
        ...


# file suffix → loader class; ``@LOADERS.register`` on a class registers its ``suffixes``
LOADERS: Registry = Registry("file format", key="ingest.include",
                             package="ragloop.ingest.loaders", group="ragloop.loaders",
                             names_of=lambda cls: tuple(cls.suffixes))


def check_zip(path: Path, data: bytes, limits: LoadLimits, kind: str) -> None:
    """Check, from the zip directory in ``data`` and before anything is decompressed, that
    its members are not too many and do not unpack to too much (a zip bomb: a 1 MB file
    can hold a 1 GiB member). ``zipfile`` stops reading a member at its declared size, so
    the declared sizes bound what a parser reading the archive can be handed."""
    if data.startswith(b"\xd0\xcf\x11\xe0"):  # an OLE compound file, not a zip
        raise IngestError(path, f"encrypted (password-protected) or legacy Office file, not "
                                f"a {kind} file that can be read")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as err:
        raise IngestError(path, f"corrupt or not a {kind} file: {err}") from None
    if len(members) > limits.max_archive_members:
        raise IngestError(path, f"{kind} archive holds {len(members)} members, over the "
                                f"[ingest] max_archive_members limit of "
                                f"{limits.max_archive_members}")
    unpacked = sum(member.file_size for member in members)
    if unpacked > limits.max_unpacked_bytes:
        raise IngestError(path, f"{kind} unpacks to {unpacked / MB:.1f} MB, over the "
                                f"[ingest] max_unpacked_mb limit of "
                                f"{limits.max_unpacked_bytes / MB:g} MB")


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
        self._pending_pages = 0  # pages begun whose first text is not yet known

    def _append(self, text: str, separator: str = "\n\n") -> int | None:
        text = normalize_text(text)
        if not text:
            return None
        if self._parts:
            self._parts.append(separator)
            self._length += len(separator)
        start = self._length
        self._pages += [start] * self._pending_pages
        self._pending_pages = 0
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

    def continuation(self, text: str) -> None:
        """More lines of the last block, joined to it with a single line break: the rows of
        a table that goes on over a page break stay one table."""
        self._append(text, "\n")

    def page(self) -> None:
        """A new page starts with the next text added."""
        self._pending_pages += 1

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
        pages = tuple(min(p, len(text))
                      for p in self._pages + [len(text)] * self._pending_pages)
        return Document(id=doc_id, source=source, title=normalize_text(title) or source,
                        text=text, content_hash=content_hash(f"{title}\n{text}"), mtime=mtime,
                        sections=self.sections(), pages=pages, metadata=metadata)


def file_key(path: Path, data: bytes) -> str:
    """What a single-document file's parse depends on: its bytes and the loader's version.
    Equal keys let ingestion skip the file without parsing it."""
    loader = LOADERS.get(path.suffix.lower())
    version = getattr(loader, "version", 1)
    return f"{hashlib.sha256(data).hexdigest()}:{loader.__name__}@{version}"


def file_metadata(path: Path, data: bytes | None) -> dict:
    meta = {"path": str(path.resolve()), "format": path.suffix.lower().lstrip(".")}
    if data is not None:
        meta["file_hash"] = file_key(path, data)
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


def _invalid_as_cp1252(err: UnicodeDecodeError) -> tuple[str, int]:
    bad = err.object[err.start:err.end]
    return windows_1252(bad), err.end


def _undefined_as_latin1(err: UnicodeDecodeError) -> tuple[str, int]:
    return "".join(map(chr, err.object[err.start:err.end])), err.end


codecs.register_error("ragloop-cp1252", _invalid_as_cp1252)
codecs.register_error("ragloop-latin1", _undefined_as_latin1)


def windows_1252(data: bytes) -> str:
    """cp1252 as browsers read it (WHATWG "windows-1252"): the five bytes cp1252 leaves
    undefined are read as Latin-1."""
    return data.decode("cp1252", errors="ragloop-latin1")


def _utf8_damage(data: bytes) -> tuple[int, int]:
    """(well-formed multi-byte characters, invalid byte sequences) when read as UTF-8."""
    text = data.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd") - data.count("\ufffd".encode())
    return sum(1 for ch in text if ord(ch) > 127) - invalid, invalid


# Detectors guess BOM-less UTF-16/32 for short 8-bit texts; real UTF-16 without a BOM holds
# NUL bytes and is refused as binary before detection.
_MIN_EVIDENCE = 8
_NEVER_GUESSED = ["utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le"]


def decode_text(path: Path, data: bytes, warn: Callable[[str], None]) -> tuple[str, str]:
    """Decode text bytes: a BOM or UTF-8 when valid. Invalid UTF-8 in which well-formed
    multi-byte characters outnumber the invalid sequences is UTF-8 with damage (a truncated
    character, a stray legacy byte): it stays UTF-8 with each invalid byte read as cp1252.
    Anything else is a legacy 8-bit encoding: Western European cp1252 unless
    ``charset-normalizer`` finds an encoding that reads the bytes with less mess, on at least
    ``_MIN_EVIDENCE`` non-ASCII bytes (with fewer it guesses among code pages that fit equally,
    e.g. cp775 for "café"). Either way the choice is reported through ``warn``. Binary data
    is an error, never mangled into text. Returns (text, encoding)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding), encoding
    if looks_binary(data):
        raise IngestError(path, "binary content, not text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as err:
        utf8_error = err
    well_formed, invalid = _utf8_damage(data)
    if well_formed >= invalid:
        warn(f"not valid UTF-8: {invalid} invalid byte sequence(s), the first at byte "
             f"{utf8_error.start}, read as cp1252; the rest is UTF-8")
        return data.decode("utf-8", errors="ragloop-cp1252"), "utf-8"
    western = windows_1252(data)
    evidence = sum(1 for byte in data if byte > 127)
    detected = from_bytes(data, cp_exclusion=_NEVER_GUESSED).best() \
        if evidence >= _MIN_EVIDENCE else None
    if detected is not None and detected.encoding != "cp1252" \
            and detected.chaos < mess_ratio(western, maximum_threshold=1.0):
        text, encoding = str(detected), detected.encoding
    else:
        text, encoding = western, "cp1252"
    warn(f"not UTF-8 (invalid byte at {utf8_error.start}); decoded as {encoding} (detected)")
    return text, encoding


def read_text_file(path: Path, data: bytes | None) -> tuple[str, dict]:
    """A text file's decoded text and its metadata, any decoding warning recorded in it."""
    meta = file_metadata(path, data)
    warnings: list[str] = []
    text, meta["encoding"] = decode_text(path, data or b"", warnings.append)
    if warnings:
        meta["warnings"] = warnings
    return text, meta
