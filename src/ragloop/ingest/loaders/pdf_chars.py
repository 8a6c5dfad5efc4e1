"""A PDF page's characters with their positions and fonts, read with ``pypdfium2``, grouped
into ``Span``s: runs of characters on one baseline, in one font, without a wide gap.

``layout`` turns spans into lines, columns, paragraphs, headings and tables; it never sees
pdfium, so its rules are tested on spans made by hand. Coordinates are PDF points with the
origin at the bottom left (y grows upwards), as pdfium gives them.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import pypdfium2.raw as pdfium_c

# a gap wider than this many font sizes ends a span (table cells, column gutters)
SPAN_GAP = 0.8
_HYPHENS = "\u00ad\x02"  # soft hyphen; pdfium's marker for a hyphen at a line end
_BOLD_NAMES = ("bold", "black", "heavy", "semibold", "demi", "cmbx", "cmb10", "sfbx")
_MONO_NAMES = ("mono", "courier", "cmtt", "consol", "sfmono", "typewriter", "code", "sftt")


@dataclass(frozen=True)
class Span:
    text: str
    x0: float
    x1: float
    baseline: float
    size: float
    bold: bool = False
    mono: bool = False

    @property
    def top(self) -> float:
        return self.baseline + self.size * 0.8


@dataclass
class _Font:
    name: str = ""
    bold: bool = False
    mono: bool = False


def _font(textpage, index: int, buffer, flags) -> _Font:
    pdfium_c.FPDFText_GetFontInfo(textpage, index, buffer, len(buffer), ctypes.byref(flags))
    name = buffer.value.decode("latin-1", "replace").lower()
    weight = pdfium_c.FPDFText_GetFontWeight(textpage, index)
    return _Font(name=name, bold=weight >= 600 or any(b in name for b in _BOLD_NAMES),
                 mono=bool(flags.value & 1) or any(m in name for m in _MONO_NAMES))


def page_spans(textpage) -> list[Span]:
    """The spans of one page in content order. Characters pdfium generated (the spaces it
    infers between words, line ends) are used as breaks; a space wider than ``SPAN_GAP``
    font sizes splits a span, so table cells and columns arrive as separate spans."""
    count = pdfium_c.FPDFText_CountChars(textpage)
    spans: list[Span] = []
    buffer = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    left, right, bottom, top = (ctypes.c_double() for _ in range(4))
    origin_x, origin_y = ctypes.c_double(), ctypes.c_double()
    text: list[str] = []
    x0 = x1 = base = size = 0.0
    font = _Font()
    last_object = None

    def close() -> None:
        joined = "".join(text).strip()
        if joined:
            spans.append(Span(joined, x0, x1, base, size, font.bold, font.mono))
        text.clear()

    for i in range(count):
        code = pdfium_c.FPDFText_GetUnicode(textpage, i)
        char = chr(code) if 0 < code < 0x110000 else ""
        if char in ("\r", "\n", ""):
            close()
            continue
        if char in _HYPHENS:
            char = "-"
        pdfium_c.FPDFText_GetCharBox(textpage, i, left, right, bottom, top)
        if char.isspace():
            if text and text[-1] != " ":
                text.append(" ")
            continue
        pdfium_c.FPDFText_GetCharOrigin(textpage, i, origin_x, origin_y)
        char_size = pdfium_c.FPDFText_GetFontSize(textpage, i) or (top.value - bottom.value)
        text_object = pdfium_c.FPDFText_GetTextObject(textpage, i)
        text_object = ctypes.cast(text_object, ctypes.c_void_p).value if text_object else None
        char_font = font
        if text_object != last_object or not text:
            char_font = _font(textpage, i, buffer, flags)
            last_object = text_object
        if text:
            gap = left.value - x1
            if abs(origin_y.value - base) > 0.4 * max(size, char_size) \
                    or gap > SPAN_GAP * max(size, char_size) or gap < -2 * size \
                    or char_font.bold != font.bold or char_font.mono != font.mono \
                    or abs(char_size - size) > 0.5:
                close()
        if not text:
            x0, base, size, font = left.value, origin_y.value, char_size, char_font
        text.append(char)
        x1 = max(x1, right.value) if len(text) > 1 else right.value
    close()
    return spans
