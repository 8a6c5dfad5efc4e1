"""Probe item 3 of issue 27: a small PDF whose pages all draw one shared content stream
(9.4 KB) took 90 s of parsing before the record-size refusal, the cost growing with the page
count. The refusal must come from a budget counted while reading, not after every page."""

from __future__ import annotations

import time
from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

import ragloop


def shared_stream_pdf(path: Path, *, pages: int, shows: int) -> Path:
    """``pages`` pages whose /Contents is one stream of ``shows`` text-show operators."""
    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica")}))
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 1 Tf " + b"(shared words on every page) Tj 0 -1 Td " * shows
                    + b"ET")
    contents = writer._add_object(stream.flate_encode())
    resources = DictionaryObject({NameObject("/Font"): DictionaryObject(
        {NameObject("/F1"): font})})
    for _ in range(pages):
        page = writer.add_blank_page(200, 200)
        page[NameObject("/Contents")] = contents
        page[NameObject("/Resources")] = resources
    writer.write(path)
    return path


def test_pages_sharing_one_content_stream_are_refused_before_they_are_read(tmp_path):
    # 200 pages x 13,500 characters: 2.7M characters from a 30 KB file
    pdf = shared_stream_pdf(tmp_path / "shared.pdf", pages=200, shows=500)
    pipeline = ragloop.open(tmp_path / "proj", ingest={"max_record_chars": 100_000})
    with pipeline:
        start = time.monotonic()
        report = pipeline.ingest([pdf])
        elapsed = time.monotonic() - start
    assert any("shared.pdf" in e and "max_record_chars" in e for e in report.errors), \
        report.errors
    assert elapsed < 3, f"{elapsed:.1f} s to refuse a {pdf.stat().st_size:,}-byte file"
