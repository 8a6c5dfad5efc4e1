"""Plain text files: one document, no headings; the title is the file name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ragloop.ingest.loaders.base import (
    LOADERS,
    DocumentBuilder,
    LoadItem,
    LoadLimits,
    file_doc_id,
    read_text_file,
)


@LOADERS.register
class TextLoader:
    suffixes = (".txt", ".text")
    version = 1
    multi_document = False

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        text, meta = read_text_file(path, data)
        builder = DocumentBuilder()
        for paragraph in text.replace("\r\n", "\n").split("\n\n"):
            builder.paragraph(paragraph)
        yield builder.build(doc_id=file_doc_id(path), source=str(path), title=path.stem,
                            mtime=path.stat().st_mtime, metadata=meta)
