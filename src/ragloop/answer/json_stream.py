"""Show one string field of a JSON object while the model is still writing it.

Schema-constrained answers arrive as JSON (``{"answer": "...", "sources": [1]}``); people
should not wait for the closing brace to read the answer. ``FieldStreamer`` is fed the raw
pieces and returns the newly decoded characters of the chosen field's value.
"""

from __future__ import annotations

import json
import re

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
            "t": "\t"}


class FieldStreamer:
    def __init__(self, field: str):
        self._opening = re.compile(r'"' + re.escape(field) + r'"\s*:\s*"')
        self._raw = ""
        self._pos: int | None = None  # index in _raw of the next undecoded value character
        self.done = False

    def feed(self, piece: str) -> str:
        self._raw += piece
        if self.done:
            return ""
        if self._pos is None:
            match = self._opening.search(self._raw)
            if not match:
                return ""
            self._pos = match.end()
        out: list[str] = []
        raw, i = self._raw, self._pos
        while i < len(raw):
            ch = raw[i]
            if ch == '"':
                self.done = True
                i += 1
                break
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            if i + 1 >= len(raw):
                break  # the escape is split across pieces: wait for the rest
            code = raw[i + 1]
            if code == "u":
                if i + 6 > len(raw):
                    break
                out.append(json.loads(f'"{raw[i:i + 6]}"'))
                i += 6
            else:
                out.append(_ESCAPES.get(code, code))
                i += 2
        self._pos = i
        return "".join(out)

    @property
    def raw(self) -> str:
        return self._raw
