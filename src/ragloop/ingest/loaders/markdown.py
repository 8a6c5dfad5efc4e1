"""Markdown: ATX (``#``) and setext (underlined) headings become sections; the title is the
front-matter ``title``, else the first level-1 heading, else the file name. Headings inside
fenced code blocks are text."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from ragloop.ingest.loaders.base import (
    LOADERS,
    DocumentBuilder,
    LoadItem,
    LoadLimits,
    file_doc_id,
    read_text_file,
)

# Linear on purpose: "(.*?)\s*#*\s*$" backtracked cubically (a 3 KB line of spaces took 31 s);
# the closing hashes and surrounding whitespace are stripped in Python instead.
_ATX = re.compile(r" {0,3}(#{1,6})\s(.*)")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_LIST_ITEM = re.compile(r"^ {0,3}([-+*]|\d{1,9}[.)])(\s|$)")
_FRONT_TITLE = re.compile(r"^title:(.*)$", re.MULTILINE)


def split_front_matter(text: str) -> tuple[str, str]:
    """(front matter, body); front matter is the YAML block between leading ``---`` lines."""
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            return text[4:end], text[end + 4:].lstrip("-").lstrip("\n")
    return "", text


def atx_heading(line: str) -> tuple[int, str] | None:
    """(level, title) of an ATX heading line (``## Title ##``), else None. The title is the
    line after the hashes, less surrounding whitespace and any closing hashes."""
    found = _ATX.match(line)
    if found is None:
        return None
    return len(found.group(1)), found.group(2).strip().rstrip("#").rstrip()


def front_matter_title(front: str) -> str | None:
    """The ``title:`` of a YAML front matter block, one pair of quotes removed; None when
    there is no such line."""
    found = _FRONT_TITLE.search(front)
    if found is None:
        return None
    value = found.group(1).strip()
    if value.startswith(("'", '"')):
        value = value[1:]
    if value.endswith(("'", '"')):
        value = value[:-1]
    return value


def _same(text: str) -> str:
    return text


def parse_markdown(text: str, builder: DocumentBuilder, *,
                   heading: Callable[[str], str] = _same,
                   paragraph: Callable[[str], str] = _same) -> str | None:
    """Feed headings and paragraphs to ``builder``, each passed through ``heading`` or
    ``paragraph`` first (a code block too); return the first level-1 heading."""
    first_h1 = None
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        if lines:
            builder.paragraph(paragraph("\n".join(lines)))
            lines.clear()

    for line in text.split("\n"):
        if _FENCE.match(line):  # a code block is a paragraph of its own
            if not in_fence:
                flush()
            lines.append(line)
            in_fence = not in_fence
            if not in_fence:
                flush()
            continue
        atx = None if in_fence else atx_heading(line)
        # a list item's line is never a setext title: "- a" then "  -" is a nested empty item
        setext = None if in_fence or len(lines) != 1 or _LIST_ITEM.match(lines[0]) \
            else _SETEXT.match(line)
        if atx:
            flush()
            level, title = atx
        elif setext:
            title = lines.pop()
            level = 1 if setext.group(1).startswith("=") else 2
        elif not line.strip() and not in_fence:
            flush()
            continue
        else:
            lines.append(line)
            continue
        title = heading(title)
        builder.heading(level, title)
        if level == 1 and first_h1 is None:
            first_h1 = title
    flush()
    return first_h1


@LOADERS.register
class MarkdownLoader:
    suffixes = (".md", ".markdown")
    version = 1
    multi_document = False

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        text, meta = read_text_file(path, data)
        front, body = split_front_matter(text.replace("\r\n", "\n"))
        builder = DocumentBuilder()
        first_h1 = parse_markdown(body, builder)
        title = front_matter_title(front) or first_h1 or path.stem
        yield builder.build(doc_id=file_doc_id(path), source=str(path), title=title,
                            mtime=path.stat().st_mtime, metadata=meta)
