"""Markdown as produced by an HTML-to-Markdown converter, turned back into readable text:
backslash escapes removed, emphasis markers dropped, pipe tables as plain rows; code spans
and fenced code are kept verbatim.

This relies on the converter escaping every literal markup character in prose (trafilatura
does), so an unescaped ``*`` is emphasis and ``\\_`` is a literal underscore.
"""

from __future__ import annotations

import re

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
