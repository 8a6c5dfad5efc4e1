"""Excel ``.xlsx`` with ``openpyxl``: one section per sheet ("Sheet NAME"), its rows as a
Markdown table under the first non-empty row as the header (the chunkers repeat the header
in every part of a long sheet). Formulas are read as the values the spreadsheet program last
computed and stored; a sheet over ``[ingest] max_table_rows`` rows is cut there and
reported."""

from __future__ import annotations

import datetime
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

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
from ragloop.ingest.loaders.tables import markdown_table


def value_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def trimmed_rows(rows, limit: int) -> tuple[list[list[str]], bool]:
    """Non-empty rows as text, trailing empty cells dropped, at most ``limit`` + 1 (the
    header); and whether rows were left out."""
    out: list[list[str]] = []
    for row in rows:
        cells = [value_text(v) for v in row]
        while cells and not cells[-1].strip():
            cells.pop()
        if not cells:
            continue
        if len(out) > limit:
            return out, True
        out.append(cells)
    return out, False


@LOADERS.register
class XlsxLoader:
    suffixes = (".xlsx", ".xlsm")
    version = 1
    multi_document = False

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        check_zip(path, data or b"", limits, ".xlsx")
        try:
            book = openpyxl.load_workbook(io.BytesIO(data or b""), read_only=True,
                                          data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError,
                TypeError) as err:
            raise IngestError(path, f"corrupt or not a .xlsx file: {err}") from None
        builder = DocumentBuilder()
        meta = file_metadata(path, data)
        warnings = []
        try:
            for sheet in book.worksheets:
                rows, cut = trimmed_rows(sheet.iter_rows(values_only=True),
                                         limits.max_table_rows)
                if cut:
                    warnings.append(f"{path}: sheet '{sheet.title}' cut at [ingest] "
                                    f"max_table_rows ({limits.max_table_rows:,}) rows")
                if not rows:
                    continue
                builder.heading(1, f"Sheet {sheet.title}")
                builder.paragraph(markdown_table(rows[0], rows[1:]))
            meta["sheets"] = list(book.sheetnames)
            title = book.properties.title if book.properties else None
        finally:
            book.close()
        if warnings:
            meta["warnings"] = warnings
        yield builder.build(doc_id=file_doc_id(path), source=str(path), title=title or path.stem,
                            mtime=path.stat().st_mtime, metadata=meta)
