"""PDF text layer with ``pypdf``: one paragraph block per page, page offsets kept, and the
outline (bookmarks), when there is one, as sections. Scanned PDFs without a text layer,
encrypted PDFs and corrupt files are errors naming the cause (no OCR)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError, PyPdfError

from ragloop.errors import IngestError
from ragloop.ingest.loaders.base import (
    LOADERS,
    DocumentBuilder,
    LoadItem,
    LoadLimits,
    file_doc_id,
    file_metadata,
)

logging.getLogger("pypdf").setLevel(logging.ERROR)


def _outline(reader: PdfReader) -> dict[int, list[tuple[int, str]]]:
    """page index → [(level, title)] of the bookmarks pointing at it."""
    found: dict[int, list[tuple[int, str]]] = {}

    def walk(items, level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
            except Exception:  # noqa: BLE001 - a broken bookmark only loses that heading
                continue
            if page is not None and page >= 0:
                found.setdefault(page, []).append((level, str(item.title)))

    try:
        walk(reader.outline, 1)
    except PyPdfError:
        return {}
    return found


@LOADERS.register
class PdfLoader:
    suffixes = (".pdf",)
    version = 1
    multi_document = False

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        try:
            reader = PdfReader(io.BytesIO(data or b""))
            if reader.is_encrypted and not reader.decrypt(""):
                raise IngestError(path, "encrypted PDF (needs a password)")
            pages = [page.extract_text() or "" for page in reader.pages]
            outline = _outline(reader)
            info_title = (reader.metadata or {}).get("/Title")
        except IngestError:
            raise
        except (FileNotDecryptedError, NotImplementedError) as err:
            raise IngestError(path, f"encrypted PDF that cannot be opened: {err}") from None
        except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError) as err:
            raise IngestError(path, f"corrupt or unreadable PDF: {err}") from None
        if not any(text.strip() for text in pages):
            raise IngestError(path, f"no text layer in {len(pages)} page(s) "
                                    "(scanned PDF? OCR is not supported)")
        builder = DocumentBuilder()
        for number, text in enumerate(pages):
            builder.page()
            for level, title in outline.get(number, []):
                builder.mark_section(level, title)
            builder.paragraph(text)
        meta = file_metadata(path, data)
        meta["n_pages"] = len(pages)
        title = str(info_title) if info_title else path.stem
        yield builder.build(doc_id=file_doc_id(path), source=str(path), title=title,
                            mtime=path.stat().st_mtime, metadata=meta)
