"""HTML from Sphinx: section paths follow the page's real headings (multi-line inline code
must not swallow the headings after it), no permalink marks, readable tables, no Markdown
escapes, tables as Markdown tables, and the page title is not repeated in chunk headers.

The fixture pages in data/sphinx/ are written in Sphinx's HTML shape (headerlink anchors,
``span.pre`` inside inline code that wraps over a line, docutils tables, ``dl.py`` entries).
"""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest

from fakes import FakeEmbedder
from ragloop.config import IngestSettings
from ragloop.ingest.chunk import ChunkBuilder
from ragloop.ingest.loaders import load_path

SPHINX = Path(__file__).parent / "data" / "sphinx"
PAGES = sorted(SPHINX.glob("*.html"))


def real_headings(path: Path) -> list[str]:
    """The text a reader sees in each heading of the page body, in order."""
    body = lxml.html.parse(str(path)).xpath('//div[@role="main"]')[0]
    return [" ".join(h.text_content().replace("¶", "").split())
            for h in body.iter("h1", "h2", "h3", "h4", "h5", "h6")]


def section_at(doc, needle: str) -> list[str]:
    """Titles of the sections holding the first occurrence of ``needle``, outermost first."""
    offset = doc.text.index(needle)
    return [s.title for s in sorted((s for s in doc.sections if s.start <= offset < s.end),
                                    key=lambda s: s.level)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_section_titles_are_the_pages_headings(page):
    (doc,) = load_path(page)
    assert [s.title for s in doc.sections] == real_headings(page)
    assert doc.title == real_headings(page)[0]
    assert "¶" not in doc.title + doc.text


def test_text_after_multiline_inline_code_stays_in_its_section():
    (doc,) = load_path(SPHINX / "brewing.html")
    assert section_at(doc, "Older kettles take") == [
        "3. Brewing Tea", "3.1. Warming the Pot", "3.1.1. Old Kettle Settings"]
    assert section_at(doc, "up to cups cups") == ["3. Brewing Tea",
                                                   "3.3. Methods of Pot Objects"]
    # the wrapped inline code is one code span on its line, not a fenced block
    assert "Given `'boil' % level`, each `%`" in doc.text
    # a comment line inside a code block is code, not a heading
    assert "# Warm enough for green tea" in doc.text
    assert "Warm enough for green tea" not in [s.title for s in doc.sections]


def test_tables_are_markdown_tables_and_escapes_are_gone():
    (doc,) = load_path(SPHINX / "brewing.html")
    assert ("| Tea | Water (°C) | Minutes |\n| --- | --- | --- |\n| Green | 75 | 2 |\n"
            "| Black | 95 | 4 |") in doc.text
    assert "`max_file_mb`-style" in doc.text and "\\" not in doc.text
    assert "the kettle_limit option [in litres] is 2*3 at most, and #hashtags" in doc.text
    assert "taste decides" in doc.text and "*taste*" not in doc.text
    (pot,) = load_path(SPHINX / "pot.html")
    assert "| `%T` | Tea name, such as Assam. |" in pot.text
    assert section_at(pot, "Water temperature in degrees") == [
        "pot — Teapot control", "Pot.label() Format Codes"]


def test_chunk_headers_do_not_repeat_the_page_title():
    (doc,) = load_path(SPHINX / "pot.html")
    builder = ChunkBuilder(IngestSettings(chunker="structure", chunk_tokens=60),
                           FakeEmbedder(), contextual=False)
    headers = {c.header for c in builder.chunks(doc)}
    assert "pot — Teapot control > Pot.label() Format Codes > Notes on label()" in headers
    assert all(h.count("Teapot control") == 1 and "¶" not in h and "`" not in h
               for h in headers)


def test_sphinx_pages_chunk_on_the_real_embedder(real_embedder):
    (doc,) = load_path(SPHINX / "brewing.html")
    chunks = ChunkBuilder(IngestSettings(chunker="structure"), real_embedder,
                          contextual=False).chunks(doc)
    paths = [c.section_path for c in chunks]
    assert ("3. Brewing Tea", "3.1. Warming the Pot", "3.1.1. Old Kettle Settings") in paths
    old = next(c for c in chunks if "Older kettles" in c.text)
    assert old.header == "3. Brewing Tea > 3.1. Warming the Pot > 3.1.1. Old Kettle Settings"
