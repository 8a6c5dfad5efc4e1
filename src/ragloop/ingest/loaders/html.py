"""HTML: the main text with boilerplate (navigation, headers, footers, scripts) removed by
``trafilatura``; its Markdown output keeps the heading structure, parsed as Markdown."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import trafilatura

from ragloop.errors import IngestError
from ragloop.ingest.loaders.base import (
    DocumentBuilder,
    LoadItem,
    file_doc_id,
    file_metadata,
    looks_binary,
    register,
)
from ragloop.ingest.loaders.markdown import parse_markdown

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


@register
class HtmlLoader:
    suffixes = (".html", ".htm", ".xhtml")
    multi_document = False

    def load(self, path: Path, data: bytes | None) -> Iterator[LoadItem]:
        data = data or b""
        if looks_binary(data):
            raise IngestError(path, "binary content, not HTML")
        markdown = trafilatura.extract(data, output_format="markdown", include_formatting=True,
                                       include_comments=False, favor_recall=True)
        if not markdown:
            raise IngestError(path, "no main text found in the HTML")
        meta = file_metadata(path, data)
        builder = DocumentBuilder()
        first_h1 = parse_markdown(markdown, builder)
        page_meta = trafilatura.extract_metadata(data)
        title = (page_meta.title if page_meta else None) or first_h1 or path.stem
        yield builder.build(doc_id=file_doc_id(path), source=str(path), title=title,
                            mtime=path.stat().st_mtime, metadata=meta)
