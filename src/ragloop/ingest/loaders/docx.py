"""Word ``.docx`` with ``python-docx``: paragraphs styled "Title"/"Heading N" become
headings; tables become Markdown tables (the first row as the header); pictures in the text
are read by OCR where they hold text (``pictures``)."""

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
from ragloop.ingest.loaders.pictures import PictureReader
from ragloop.ingest.loaders.tables import markdown_table

_HEADING = re.compile(r"^heading (\d)$", re.IGNORECASE)
_BLIP = "{http://schemas.openxmlformats.org/drawingml/2006/main}blip"
_EMBED = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}embed"


def _pictures(paragraph: Paragraph, document) -> list[bytes]:
    """The image bytes of the pictures drawn in a paragraph."""
    blobs = []
    for blip in paragraph._element.iter(_BLIP):
        part = document.part.related_parts.get(blip.get(_EMBED))
        if part is not None and getattr(part, "blob", None):
            blobs.append(part.blob)
    return blobs


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
    version = 2  # 1: tables as "cell | cell" lines, pictures unread
    multi_document = False

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        check_zip(path, data or b"", limits, ".docx")
        try:
            document = docx.Document(io.BytesIO(data or b""))
        except (zipfile.BadZipFile, KeyError, ValueError) as err:
            raise IngestError(path, f"corrupt or not a .docx file: {err}") from None
        builder = DocumentBuilder()
        pictures = PictureReader(path, limits)
        style_title = None
        for block in _blocks(document):
            if isinstance(block, Table):
                rows = [[cell.text.strip() for cell in row.cells] for row in block.rows]
                if rows:
                    builder.paragraph(markdown_table(rows[0], rows[1:]))
                continue
            for blob in _pictures(block, document):
                text = pictures.text(blob)
                if text:
                    builder.paragraph(text)
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
        meta = file_metadata(path, data)
        pictures.record(meta)
        yield builder.build(doc_id=file_doc_id(path), source=str(path), title=title,
                            mtime=path.stat().st_mtime, metadata=meta)
