"""PowerPoint ``.pptx`` with ``python-pptx``: one section per slide, named "Slide N: title"
(so a citation names the slide); the text of every shape in reading order (top to bottom,
then left to right), tables as Markdown tables, speaker notes after the slide's text, and
the text of pictures by OCR (``pictures``)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.exc import PackageNotFoundError

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


def _shapes(shapes) -> list:
    """Shapes in reading order, the members of groups in their place."""
    out = []
    for shape in sorted(shapes, key=lambda s: (s.top or 0, s.left or 0)):
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            out += _shapes(shape.shapes)
        else:
            out.append(shape)
    return out


def _slide_text(slide, pictures: PictureReader, builder: DocumentBuilder) -> None:
    title_shape = slide.shapes.title
    for shape in _shapes(slide.shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        if shape.has_text_frame:
            lines = [p.text for p in shape.text_frame.paragraphs]
            builder.paragraph("\n".join(line for line in lines if line.strip()))
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
            if rows:
                builder.paragraph(markdown_table(rows[0], rows[1:]))
        elif shape.shape_type == MSO_SHAPE_TYPE.PICTURE:
            text = pictures.text(shape.image.blob)
            if text:
                builder.paragraph(text)


@LOADERS.register
class PptxLoader:
    suffixes = (".pptx",)
    version = 1
    multi_document = False

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        check_zip(path, data or b"", limits, ".pptx")
        try:
            deck = Presentation(io.BytesIO(data or b""))
        except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as err:
            raise IngestError(path, f"corrupt or not a .pptx file: {err}") from None
        builder = DocumentBuilder()
        pictures = PictureReader(path, limits)
        first_title = None
        for number, slide in enumerate(deck.slides, start=1):
            title = slide.shapes.title.text.strip() if slide.shapes.title is not None else ""
            first_title = first_title or title
            builder.heading(1, f"Slide {number}: {title}" if title else f"Slide {number}")
            _slide_text(slide, pictures, builder)
            if slide.has_notes_slide:
                notes = slide.notes_slide.notes_text_frame
                if notes is not None and notes.text.strip():
                    builder.paragraph(f"Notes: {notes.text}")
        meta = file_metadata(path, data)
        meta["n_slides"] = len(deck.slides)
        pictures.record(meta)
        title = deck.core_properties.title or first_title or path.stem
        yield builder.build(doc_id=file_doc_id(path), source=str(path), title=title,
                            mtime=path.stat().st_mtime, metadata=meta)
