"""PDF with ``pypdfium2``: the characters' positions and fonts are laid out (``layout``) into
headings, paragraphs, code and Markdown tables, in reading order, with running headers,
footers and page numbers removed (their texts are kept in ``metadata["running_text"]``).
Page starts are kept for citations. Bookmarks, where the file has them, are the sections;
otherwise headings found by font size and weight are. A table that goes on over a page break
is joined into one, its repeated header row dropped. Pages of a table of contents or an index
are left out (their numbers are in ``metadata["contents_pages"]``): they name every section
and would outrank the sections themselves.

Pages without a text layer are rendered and OCR'd (``ingest.ocr``) when ``[ingest] ocr`` is
"auto" and the ``ocr`` extra is installed; each such page's confidence is kept in
``metadata["ocr_pages"]`` and low ones are reported as warnings.

Reading is bounded by what the pages expand to, not by the file's size: a small file can
point every page at one huge content stream, so the characters and page objects of the pages
are counted against ``[ingest] max_record_chars`` by pdfium alone, before any page is laid
out, and the file is refused as soon as they pass it (``check_expansion``).

pypdfium2 was chosen over pdfplumber for speed (``bench/documents.py``, "libraries": on a
311-page manual it reads characters with their boxes and fonts several times faster), and
it also renders pages for OCR. pymupdf is AGPL and not an option.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ragloop.errors import IngestError
from ragloop.ingest import ocr
from ragloop.ingest.loaders import layout
from ragloop.ingest.loaders.base import (
    LOADERS,
    DocumentBuilder,
    LoadItem,
    LoadLimits,
    file_doc_id,
    file_metadata,
)
from ragloop.ingest.loaders.pdf_chars import Span, page_spans
from ragloop.ingest.loaders.tables import markdown_row

logging.getLogger("pypdfium2").setLevel(logging.ERROR)
MAX_RUNNING_TEXTS = 20


@dataclass
class _Page:
    rows: list[layout.Row]
    height: float
    ocr_confidence: float | None = None
    blocks: list[layout.Block] = field(default_factory=list)


def _open(path: Path, data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        if "password" in str(err).lower():
            raise IngestError(path, "encrypted PDF (needs a password)") from None
        raise IngestError(path, f"corrupt or unreadable PDF: {err}") from None


def _bookmarks(pdf: pdfium.PdfDocument) -> dict[int, list[tuple[int, str, float | None]]]:
    """page index → [(level, title, y of the destination or None)]."""
    found: dict[int, list[tuple[int, str, float | None]]] = {}
    try:
        for item in pdf.get_toc(max_depth=6):
            dest = item.get_dest()
            page = dest.get_index() if dest is not None else None
            if page is None or page < 0:
                continue
            _, view = dest.get_view()
            y = view[1] if len(view) > 1 and view[1] else None
            title = " ".join((item.get_title() or "").split())
            if title:
                found.setdefault(page, []).append((item.level + 1, title, y))
    except (pdfium.PdfiumError, ValueError, RuntimeError):
        return {}
    return found


def _has_images(page: pdfium.PdfPage) -> bool:
    return any(True for _ in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,),
                                               max_depth=2))


def _ocr_spans(page: pdfium.PdfPage, height: float, dpi: int) -> tuple[list[Span], float]:
    scale = dpi / 72
    image = page.render(scale=scale).to_pil()
    lines = ocr.recognize(image)
    spans = [Span(line.text, line.x0 / scale, line.x1 / scale,
                  height - line.y1 / scale + (line.y1 - line.y0) / scale * 0.2,
                  (line.y1 - line.y0) / scale * 0.8) for line in lines]
    return spans, ocr.confidence(lines)


def check_expansion(path: Path, pdf: pdfium.PdfDocument, limit: int) -> None:
    """Refuse a file whose pages hold more than ``limit`` characters and drawing objects in
    all, before any page is laid out. Only pdfium's own parsing runs here (about 2 ms a page
    of a manual), so a file whose pages all draw one huge content stream is refused after
    the few pages that pass the limit, not after minutes of reading characters."""
    used = 0
    for index in range(len(pdf)):
        page = pdf[index]
        try:
            used += pdfium_c.FPDFPage_CountObjects(page)
            textpage = page.get_textpage()
            try:
                used += textpage.count_chars()
            finally:
                textpage.close()
        finally:
            page.close()
        if used > limit:
            raise IngestError(path, f"the pages up to page {index + 1} already hold {used:,} "
                                    "characters and drawing objects, over [ingest] "
                                    f"max_record_chars ({limit:,}); not indexed")


def _read_pages(path: Path, pdf: pdfium.PdfDocument, limits: LoadLimits,
                warnings: list[str]) -> list[_Page]:
    check_expansion(path, pdf, limits.max_text_chars)
    use_ocr = limits.ocr == "auto" and ocr.available()
    pages: list[_Page] = []
    ocr_done = 0
    unread: list[int] = []
    for index in range(len(pdf)):
        page = pdf[index]
        try:
            height = page.get_height()
            textpage = page.get_textpage()
            try:
                spans = page_spans(textpage)
            finally:
                textpage.close()
            confidence = None
            if not spans and _has_images(page):
                if use_ocr and ocr_done < limits.ocr_max_pages:
                    spans, confidence = _ocr_spans(page, height, limits.ocr_dpi)
                    ocr_done += 1
                else:
                    unread.append(index + 1)
            pages.append(_Page(layout.rows_of(spans), height, confidence))
        finally:
            page.close()
    if unread:
        why = ("[ingest] ocr is off" if limits.ocr == "off" else
               ocr.INSTALL_HINT if not ocr.available() else
               f"over [ingest] ocr_max_pages ({limits.ocr_max_pages})")
        warnings.append(f"{path}: {len(unread)} scanned page(s) without a text layer not "
                        f"read ({why}): pages {_page_list(unread)}")
    return pages


def _page_list(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:10]))
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


def _same_table(last: layout.Block | None, first: layout.Block) -> bool:
    return last is not None and last.kind == first.kind == "table" \
        and len(last.header) == len(first.header)


def _write(builder: DocumentBuilder, pages: list[_Page],
           bookmarks: dict[int, list[tuple[int, str, float | None]]]) -> str | None:
    """Feed the pages' blocks to ``builder``; return the first level-1 heading's text."""
    first_title = None
    last: layout.Block | None = None
    for index, page in enumerate(pages):
        builder.page()
        marks = list(bookmarks.get(index, []))
        for k, block in enumerate(page.blocks):
            while marks and (marks[0][2] is None or block.top <= marks[0][2] + 2):
                level, title, _ = marks.pop(0)
                builder.mark_section(level, title)
            if k == 0 and _same_table(last, block) and not marks:
                rows = block.rows if block.header == last.header else [block.header,
                                                                       *block.rows]
                builder.continuation("\n".join(markdown_row(r) for r in rows))
                last.rows += rows
                continue
            if block.kind == "heading" and not bookmarks:
                builder.heading(block.level, block.text)
                if first_title is None and block.level == 1:
                    first_title = block.text
            else:
                builder.paragraph(block.markdown())
            last = block
        for level, title, _ in marks:
            builder.mark_section(level, title)
        if page.blocks:
            last = page.blocks[-1] if page.blocks[-1].kind == "table" else None
    return first_title


@LOADERS.register
class PdfLoader:
    suffixes = (".pdf",)
    version = 2  # 1: pypdf text, one block per page
    multi_document = False

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        pdf = _open(path, data or b"")
        warnings: list[str] = []
        try:
            pages = _read_pages(path, pdf, limits, warnings)
            bookmarks = _bookmarks(pdf)
            info_title = (pdf.get_metadata_dict() or {}).get("Title", "")
        finally:
            pdf.close()
        removed, running = layout.running_rows([p.rows for p in pages],
                                               [p.height for p in pages])
        for page, drop in zip(pages, removed, strict=True):
            page.rows = [r for i, r in enumerate(page.rows) if i not in drop]
        contents = [i + 1 for i, p in enumerate(pages) if layout.is_contents_page(p.rows)]
        for number in contents:  # a contents or index page would outrank the section it names
            pages[number - 1].rows = []
        body, heading_sizes = layout.size_profile([p.rows for p in pages])
        for page in pages:
            page.blocks = layout.blocks_of(layout.columns(page.rows), body, heading_sizes)
        if not any(page.blocks for page in pages):
            raise IngestError(path, f"no text layer in {len(pages)} page(s)"
                                    + (f"; {warnings[0].split(': ', 1)[1]}" if warnings
                                       else " and no scanned image on them"))
        builder = DocumentBuilder()
        first_title = _write(builder, pages, bookmarks)
        meta = file_metadata(path, data)
        meta["n_pages"] = len(pages)
        if contents:
            meta["contents_pages"] = contents
        if running:
            meta["running_text"] = [text for text, _ in running.most_common(MAX_RUNNING_TEXTS)]
        scanned = {i + 1: round(p.ocr_confidence, 3) for i, p in enumerate(pages)
                   if p.ocr_confidence is not None}
        if scanned:
            meta["ocr_pages"] = scanned
            low = [n for n, c in scanned.items() if c < limits.ocr_min_confidence]
            if low:
                warnings.append(f"{path}: OCR confidence below {limits.ocr_min_confidence:g} "
                                f"on page(s) {_page_list(low)}")
        if warnings:
            meta["warnings"] = warnings
        title = info_title.strip() or first_title or path.stem
        yield builder.build(doc_id=file_doc_id(path), source=str(path), title=title,
                            mtime=path.stat().st_mtime, metadata=meta)
