"""Plain text files: one document, no headings; the title is the file name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ragloop.ingest.loaders.base import (
    DocumentBuilder,
    LoadItem,
    decode_text,
    file_doc_id,
    file_metadata,
    register,
)


@register
class TextLoader:
    suffixes = (".txt", ".text")
    multi_document = False

    def load(self, path: Path, data: bytes | None) -> Iterator[LoadItem]:
        meta = file_metadata(path, data)
        warnings: list[str] = []
        text, meta["encoding"] = decode_text(path, data or b"", warnings.append)
        if warnings:
            meta["warnings"] = warnings
        builder = DocumentBuilder()
        for paragraph in text.replace("\r\n", "\n").split("\n\n"):
            builder.paragraph(paragraph)
        yield builder.build(doc_id=file_doc_id(path), source=str(path), title=path.stem,
                            mtime=path.stat().st_mtime, metadata=meta)
