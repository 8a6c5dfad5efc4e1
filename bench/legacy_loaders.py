"""The loaders as they were before issue 25 (commit 03d9820), kept only so that
``bench/documents.py`` can put their numbers next to today's in the same run: PDF as pypdf's
text layer, one block per page, bookmarks as sections; HTML as trafilatura's main text in
Markdown, parsed as Markdown. Not used by ragloop itself.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import trafilatura
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from trafilatura.utils import load_html

from ragloop.errors import IngestError
from ragloop.ingest.loaders.base import DocumentBuilder, file_doc_id, file_metadata
from ragloop.ingest.loaders.markdown import parse_markdown
from ragloop.records import Document

# ----------------------------------------------------------------------------- markdown_text
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_EMPHASIS = re.compile(r"(?<!\\)\*{1,3}")
_INLINE_HTML = re.compile(r"(?<!\\)</?(?:sup|sub|u)>")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|~])")
_TABLE_ROW = re.compile(r"^\s*\|(.*)\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?(\s*:?-{3,}:?\s*\|)+\s*(:?-{3,}:?\s*)?$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
PERMALINK_MARKS = "¶§#\u00b6"


def _prose(text: str) -> str:
    return _ESCAPE.sub(r"\1", _INLINE_HTML.sub("", _EMPHASIS.sub("", text)))


def inline_text(text: str, *, keep_code_marks: bool = True) -> str:
    """One stretch of inline Markdown as text; code spans keep their backticks unless
    ``keep_code_marks`` is False (headings, which are labels)."""
    out, last = [], 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_prose(text[last:match.start()]))
        code = match.group(2).strip() if match.group(2).strip() else match.group(2)
        out.append(f"`{code}`" if keep_code_marks else code)
        last = match.end()
    out.append(_prose(text[last:]))
    return "".join(out)


def heading_text(text: str) -> str:
    """A heading's label: plain text, no code marks, no trailing permalink mark."""
    return inline_text(text, keep_code_marks=False).strip().rstrip(PERMALINK_MARKS).strip()


def _table_row(line: str) -> str:
    cells = re.split(r"(?<!\\)\|", _TABLE_ROW.match(line).group(1))
    return " | ".join(inline_text(cell.strip()) for cell in cells)


def _is_table_line(line: str) -> bool:
    return bool(_TABLE_ROW.match(line) or (_TABLE_RULE.match(line) and "-" in line))


def paragraph_text(text: str) -> str:
    """A block of Markdown as text: fenced code verbatim; table rules dropped and table rows
    as ``cell | cell``; runs of other lines through ``inline_text`` (inline markup may span
    lines)."""
    if _FENCE.match(text):
        return text
    out: list[str] = []
    prose: list[str] = []
    for line in text.split("\n"):
        if not _is_table_line(line):
            prose.append(line)
            continue
        if prose:
            out.append(inline_text("\n".join(prose)))
            prose.clear()
        if _TABLE_ROW.match(line) and not _TABLE_RULE.match(line):
            out.append(_table_row(line))
    if prose:
        out.append(inline_text("\n".join(prose)))
    return "\n".join(out)


# ----------------------------------------------------------------------------- html
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


def legacy_html(path: Path) -> Document:
    data = path.read_bytes()
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
    return builder.build(doc_id=file_doc_id(path), source=str(path), title=title,
                         mtime=path.stat().st_mtime, metadata=file_metadata(path, data))


# ----------------------------------------------------------------------------- pdf
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


def legacy_pdf(path: Path) -> Document:
    data = path.read_bytes()
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise IngestError(path, "encrypted PDF (needs a password)")
    pages = [page.extract_text() or "" for page in reader.pages]
    outline = _outline(reader)
    info_title = (reader.metadata or {}).get("/Title")
    if not any(text.strip() for text in pages):
        raise IngestError(path, f"no text layer in {len(pages)} page(s)")
    builder = DocumentBuilder()
    for number, text in enumerate(pages):
        builder.page()
        for level, title in outline.get(number, []):
            builder.mark_section(level, title)
        builder.paragraph(text)
    meta = file_metadata(path, data)
    meta["n_pages"] = len(pages)
    title = str(info_title) if info_title else path.stem
    return builder.build(doc_id=file_doc_id(path), source=str(path), title=title,
                         mtime=path.stat().st_mtime, metadata=meta)
