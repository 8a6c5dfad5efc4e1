"""Word ``.docx`` with ``python-docx``: paragraphs styled "Title"/"Heading N" become
headings; tables become text rows (cells separated by " | ")."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from ragloop.errors import IngestError
from ragloop.ingest.loaders.base import (
    LOADERS,
    DocumentBuilder,
    LoadItem,
    LoadLimits,
    check_zip,
    file_doc_id,
    file_metadata,
)

_HEADING = re.compile(r"^heading (\d)$", re.IGNORECASE)


def _blocks(document) -> Iterator[Paragraph | Table]:
    """Paragraphs and tables in document order."""
    for child in document.element.body.iterchildren():
        if child.tag.endswith("}p"):
            yield Paragraph(child, document)
        elif child.tag.endswith("}tbl"):
            yield Table(child, document)


@LOADERS.register
class DocxLoader:
    suffixes = (".docx",)
    version = 1
    multi_document = False

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        check_zip(path, data or b"", limits, ".docx")
        try:
            document = docx.Document(io.BytesIO(data or b""))
        except (zipfile.BadZipFile, KeyError, ValueError) as err:
            raise IngestError(path, f"corrupt or not a .docx file: {err}") from None
        builder = DocumentBuilder()
        style_title = None
        for block in _blocks(document):
            if isinstance(block, Table):
                rows = [" | ".join(cell.text.strip() for cell in row.cells)
                        for row in block.rows]
                builder.paragraph("\n".join(rows))
                continue
            style = block.style.name if block.style is not None else ""
            heading = _HEADING.match(style or "")
            if style == "Title":
                style_title = style_title or block.text
                builder.heading(1, block.text)
            elif heading:  # below the Title, which is level 1
                builder.heading(int(heading.group(1)) + 1, block.text)
            else:
                builder.paragraph(block.text)
        title = document.core_properties.title or style_title or path.stem
        yield builder.build(doc_id=file_doc_id(path), source=str(path), title=title,
                            mtime=path.stat().st_mtime, metadata=file_metadata(path, data))
