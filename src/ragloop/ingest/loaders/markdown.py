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

_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_LIST_ITEM = re.compile(r"^ {0,3}([-+*]|\d{1,9}[.)])(\s|$)")
_FRONT_TITLE = re.compile(r"^title:\s*[\"']?(.*?)[\"']?\s*$", re.MULTILINE)


def split_front_matter(text: str) -> tuple[str, str]:
    """(front matter, body); front matter is the YAML block between leading ``---`` lines."""
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            return text[4:end], text[end + 4:].lstrip("-").lstrip("\n")
    return "", text


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
        atx = None if in_fence else _ATX.match(line)
        # a list item's line is never a setext title: "- a" then "  -" is a nested empty item
        setext = None if in_fence or len(lines) != 1 or _LIST_ITEM.match(lines[0]) \
            else _SETEXT.match(line)
        if atx:
            flush()
            level, title = len(atx.group(1)), atx.group(2)
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
        front_title = _FRONT_TITLE.search(front)
        title = (front_title.group(1) if front_title else None) or first_h1 or path.stem
        yield builder.build(doc_id=file_doc_id(path), source=str(path), title=title,
                            mtime=path.stat().st_mtime, metadata=meta)
