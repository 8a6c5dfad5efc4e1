"""HTML from any generator (Sphinx, DocBook, MkDocs, Javadoc, Texinfo, hand-written): the
page's own structure, read from its elements with ``lxml``.

- **Boilerplate** out: scripts, styles, forms, ``<nav>``, and elements whose role, class or
  id names navigation, menus, sidebars, breadcrumbs, headers, footers or a table of contents
  (the page-level kinds of element every generator marks so), unless they hold a heading.
- **Main content**: the one ``<main>`` or ``role="main"`` element when there is one, else
  the body.
- **Sections** from ``h1``-``h6`` only; text inside ``<pre>`` or ``<code>`` is never a
  heading or the title, whatever its first character. Permalink marks ("¶") are dropped.
- **Blocks**: paragraphs, list items ("- "), definition terms, code blocks verbatim, tables
  as Markdown tables; inline code keeps its backticks, on one line.
- **Contents pages** (a table of contents, an index, a list of all classes): pages whose
  text is mostly links are marked ``metadata["contents_page"]`` and left out of the index by
  the planner, with a warning (they name every section and would outrank the sections
  themselves).
- The **title** is the first ``h1``, else the ``<title>``, else the file name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import lxml.etree
import lxml.html

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
from ragloop.ingest.loaders.tables import markdown_table

_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "form", "button", "nav",
              "iframe", "object", "select", "textarea", "input")
_BOILERPLATE = re.compile(
    r"(?:^|[-_\s])(?:nav|navbar|navigation|navheader|navfooter|topnav|bottomnav|subnav|"
    r"menu|sidebar|sphinxsidebar|breadcrumbs?|toc|toctree|footer|header|related|"
    r"search|skip|cookie|banner|md-sidebar|md-header|md-footer|contents)(?:$|[-_\s])",
    re.IGNORECASE)
_BOILERPLATE_ROLES = ("navigation", "banner", "contentinfo", "search", "menu", "toolbar")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCKS = {"p", "div", "section", "article", "main", "body", "blockquote", "ul", "ol", "dl",
           "li", "dt", "dd", "figure", "figcaption", "caption", "address", "details",
           "summary", "header", "footer", "aside", "center", "hr", "fieldset", "legend",
           # a table that holds headings lays the page out; its cells are blocks
           "table", "thead", "tbody", "tfoot", "tr", "td", "th"}
_INLINE_CODE = ("code", "tt", "kbd", "samp")
# a permalink mark after a heading's text ("Install ¶", "Usage #"); "C#" keeps its "#"
_PERMALINK = re.compile(r"(?:\s*[¶§]|\s+#)+$")
_WHITESPACE = re.compile(r"\s+")
CONTENTS_LINK_SHARE = 0.6  # of the text in links, from which a page is a contents page
CONTENTS_MIN_LINKS = 20


def _is_boilerplate(element) -> bool:
    if element.get("role", "").lower() in _BOILERPLATE_ROLES:
        return True
    names = f"{element.get('class', '')} {element.get('id', '')}"
    if not _BOILERPLATE.search(names) and element.tag not in ("header", "footer", "aside"):
        return False
    return not any(True for _ in element.iter(*_HEADINGS))  # a titled header stays


def clean_tree(tree):
    """The tree without scripts, navigation and other boilerplate, in place."""
    for element in list(tree.iter(*_DROP_TAGS)):
        if element.getparent() is not None:
            element.drop_tree()
    for anchor in tree.xpath('//a[contains(concat(" ", normalize-space(@class), " "), '
                             '" headerlink ")]'):
        anchor.drop_tree()
    for element in list(tree.iter(lxml.etree.Element)):
        if element.getparent() is not None and _is_boilerplate(element):
            element.drop_tree()
    return tree


def main_content(tree):
    mains = tree.xpath('//main | //*[@role="main"]')
    if len(mains) == 1:
        return mains[0]
    body = tree.find(".//body")
    return body if body is not None else tree


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def heading_label(element) -> str:
    return _PERMALINK.sub("", _one_line(element.text_content())).strip()


def _table(element) -> str:
    rows = []
    for tr in element.iter("tr"):
        cells = [_one_line(_inline(cell)) for cell in tr if cell.tag in ("td", "th")]
        if any(cells):
            rows.append(cells)
    return markdown_table(rows[0], rows[1:]) if rows else ""


def _inline(element) -> str:
    """An element's text as inline text: inline code in backticks, line breaks kept."""
    parts = [element.text or ""]
    for child in element:
        if not isinstance(child.tag, str):
            parts.append(child.tail or "")
            continue
        if child.tag in _INLINE_CODE:
            code = _one_line(child.text_content())
            parts.append(f"`{code}`" if code else "")
        elif child.tag == "br":
            parts.append("\n")
        else:
            parts.append(_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


class _Walker:
    """Feeds a content element's blocks to a ``DocumentBuilder`` in document order."""

    def __init__(self, builder: DocumentBuilder):
        self.builder = builder
        self.buffer: list[str] = []
        self.prefix = ""
        self.first_h1: str | None = None
        self.headings = 0

    def flush(self) -> None:
        text = "".join(self.buffer)
        text = "\n".join(_WHITESPACE.sub(" ", line).strip() for line in text.split("\n"))
        if text.strip():
            self.builder.paragraph(self.prefix + text.strip())
        self.buffer.clear()
        self.prefix = ""

    def walk(self, element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _HEADINGS:
            self.flush()
            label = heading_label(element)
            if label:
                self.builder.heading(int(tag[1]), label)
                self.headings += 1
                if tag == "h1" and self.first_h1 is None:
                    self.first_h1 = label
        elif tag == "pre":
            self.flush()
            self.builder.paragraph(element.text_content().strip("\n"))
        elif tag == "table" and next(element.iter(*_HEADINGS), None) is None:
            self.flush()
            self.builder.paragraph(_table(element))
        elif tag in _INLINE_CODE:
            code = _one_line(element.text_content())
            self.buffer.append(f"`{code}`" if code else "")
        elif tag == "br":
            self.buffer.append("\n")
        elif tag in _BLOCKS:
            self.flush()
            if tag == "li":
                self.prefix = "- "
            self.buffer.append(element.text or "")
            for child in element:
                self.walk(child)
            self.flush()
        elif tag:
            self.buffer.append(element.text or "")
            for child in element:
                self.walk(child)
        if element.tail:  # a comment's text is left out, not the text after it
            self.buffer.append(element.tail)


def link_share(content) -> tuple[float, int]:
    """(share of the text that is link text, number of links) in ``content``."""
    total = len(_one_line(content.text_content()))
    links = content.xpath(".//a[@href]")
    linked = sum(len(_one_line(a.text_content())) for a in links)
    return (linked / total if total else 0.0), len(links)


def is_contents(content) -> bool:
    """Whether a page's content is a table of contents or an index: mostly links, many."""
    share, links = link_share(content)
    return share >= CONTENTS_LINK_SHARE and links >= CONTENTS_MIN_LINKS


def page_content(path: Path, data: bytes):
    """(the main content element of an HTML page, cleaned; the page's ``<title>``)."""
    try:
        tree = lxml.html.document_fromstring(data)
    except (lxml.etree.ParserError, ValueError) as err:
        raise IngestError(path, f"not parseable as HTML: {err}") from None
    page_title = _one_line(tree.findtext(".//title") or "")
    return main_content(clean_tree(tree)), page_title


def write_content(content, builder: DocumentBuilder) -> str | None:
    """Feed a content element's headings and blocks to ``builder``; return its first h1."""
    walker = _Walker(builder)
    walker.walk(content)
    walker.flush()
    return walker.first_h1


@LOADERS.register
class HtmlLoader:
    suffixes = (".html", ".htm", ".xhtml")
    version = 2  # 1: trafilatura's main text as Markdown
    multi_document = False

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        data = data or b""
        if looks_binary(data):
            raise IngestError(path, "binary content, not HTML")
        content, page_title = page_content(path, data)
        meta = file_metadata(path, data)
        if is_contents(content):
            meta["contents_page"] = True
        builder = DocumentBuilder()
        title = write_content(content, builder) or page_title or path.stem
        yield builder.build(doc_id=file_doc_id(path), source=str(path), title=title,
                            mtime=path.stat().st_mtime, metadata=meta)
