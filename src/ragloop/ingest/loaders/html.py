"""HTML: the main text with boilerplate (navigation, headers, footers, scripts) removed by
``trafilatura``; its Markdown output keeps the heading structure, parsed as Markdown, and
each heading and paragraph is then turned back into readable text (``markdown_text``).

Two things in real pages (Sphinx, MkDocs) need care before extraction: permalink anchors
("¶" after every heading and definition) are dropped, and inline ``<code>`` that wraps over
a line break is made one line, because trafilatura renders multi-line inline code as a
fenced block starting mid-line, which reads as an unclosed fence and swallows the headings
after it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import trafilatura
from trafilatura.utils import load_html

from ragloop.errors import IngestError
from ragloop.ingest.loaders.base import (
    LOADERS,
    DocumentBuilder,
    LoadItem,
    LoadLimits,
    file_doc_id,
    file_metadata,
    looks_binary,
)
from ragloop.ingest.loaders.markdown import parse_markdown
from ragloop.ingest.loaders.markdown_text import heading_text, paragraph_text

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

_INLINE_CODE = ("code", "tt", "kbd", "samp")
_WHITESPACE = re.compile(r"\s+")
# a fence opened after other text on the line: trafilatura's rendering of inline code
# that held a line break; it is inline code, so it becomes a one-line code span
_MIDLINE_FENCE = re.compile(r"(?<=\S)[ \t]*(`{3,})\n(.*?)\n[ \t]*\1[ \t]*(?:\n(?=[ \t]*[,.;:)]))?",
                            re.DOTALL)


def _one_line(text: str | None) -> str | None:
    return _WHITESPACE.sub(" ", text) if text else text


def prepare_tree(tree):
    """Drop permalink anchors and put inline code on one line, in place; returns ``tree``."""
    for anchor in tree.xpath('//a[contains(concat(" ", normalize-space(@class), " "), '
                             '" headerlink ")]'):
        parent = anchor.getparent()
        if parent is not None:
            anchor.drop_tree()  # keeps the anchor's tail text
    for tag in _INLINE_CODE:
        for code in tree.iter(tag):
            if any(a.tag == "pre" for a in code.iterancestors()):
                continue
            code.text = _one_line(code.text)
            for inner in code.iterdescendants():
                inner.text, inner.tail = _one_line(inner.text), _one_line(inner.tail)
    return tree


def repair_midline_fences(markdown: str) -> str:
    """Fenced blocks opened mid-line become inline code spans."""
    def span(match: re.Match) -> str:
        code = _WHITESPACE.sub(" ", match.group(2)).strip()
        return f" `{code}`" if code else ""
    return _MIDLINE_FENCE.sub(span, markdown)


@LOADERS.register
class HtmlLoader:
    suffixes = (".html", ".htm", ".xhtml")
    version = 1
    multi_document = False

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        data = data or b""
        if looks_binary(data):
            raise IngestError(path, "binary content, not HTML")
        tree = load_html(data)
        if tree is None:
            raise IngestError(path, "not parseable as HTML")
        tree = prepare_tree(tree)
        page_meta = trafilatura.extract_metadata(tree)
        markdown = trafilatura.extract(tree, output_format="markdown", include_formatting=True,
                                       include_comments=False, favor_recall=True)
        if not markdown:
            raise IngestError(path, "no main text found in the HTML")
        builder = DocumentBuilder()
        first_h1 = parse_markdown(repair_midline_fences(markdown), builder,
                                  heading=heading_text, paragraph=paragraph_text)
        title = first_h1 or heading_text(page_meta.title if page_meta and page_meta.title
                                         else "") or path.stem
        yield builder.build(doc_id=file_doc_id(path), source=str(path), title=title,
                            mtime=path.stat().st_mtime, metadata=file_metadata(path, data))
