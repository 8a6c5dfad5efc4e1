"""CSV and TSV: the rows as one Markdown table under the first row as the header (chunkers
repeat the header in every part). The delimiter is sniffed from the first 64 KB (``,`` ``;``
tab ``|``; a ``.tsv`` file falls back to tab, others to comma); the encoding is detected as
for text files; a file over ``[ingest] max_table_rows`` rows is cut there and reported."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from ragloop.errors import IngestError
from ragloop.ingest.loaders.base import (
    LOADERS,
    DocumentBuilder,
    LoadItem,
    LoadLimits,
    file_doc_id,
    read_text_file,
)
from ragloop.ingest.loaders.tables import markdown_table
from ragloop.ingest.loaders.xlsx import trimmed_rows

SNIFF_CHARS = 65536
DELIMITERS = ",;\t|"


def sniff_delimiter(sample: str, fallback: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return fallback


@LOADERS.register
class CsvLoader:
    suffixes = (".csv", ".tsv", ".tab")
    version = 1
    multi_document = False

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        text, meta = read_text_file(path, data)
        sample = text[:SNIFF_CHARS]
        if "\n" in sample:  # a cut last line would mislead the sniffer
            sample = sample[:sample.rindex("\n")]
        delimiter = sniff_delimiter(sample, "\t" if path.suffix.lower() != ".csv" else ",")
        csv.field_size_limit(limits.max_file_bytes)
        try:
            rows, cut = trimmed_rows(csv.reader(io.StringIO(text, newline=""),
                                                delimiter=delimiter), limits.max_table_rows)
        except csv.Error as err:
            raise IngestError(path, f"not readable as CSV: {err}") from None
        if not rows:
            raise IngestError(path, "no rows in the file")
        meta["delimiter"] = delimiter
        meta["n_rows"] = len(rows) - 1
        if cut:
            meta.setdefault("warnings", []).append(
                f"{path}: cut at [ingest] max_table_rows ({limits.max_table_rows:,}) rows")
        builder = DocumentBuilder()
        builder.paragraph(markdown_table(rows[0], rows[1:]))
        yield builder.build(doc_id=file_doc_id(path), source=str(path), title=path.stem,
                            mtime=path.stat().st_mtime, metadata=meta)
