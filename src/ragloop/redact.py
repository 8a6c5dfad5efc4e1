"""Secrets out of what ragloop writes and shows: the password of a URL
(``postgresql://user:PASSWORD@host``), the value of a secret-looking query parameter
(``?token=``, ``?api-key=`` ...) or ``password=`` setting, and a known secret in any URL
encoding of it (a key with ``/`` or ``&`` reaches an access log percent-encoded)."""

from __future__ import annotations

import re
from typing import Any

MASK = "[redacted]"
SECRET_NAMES = (r"api[_-]?key|apikey|key|token|access[_-]?token|auth|password|passwd|pwd"
                r"|secret|sig|signature")
_PARAM = re.compile(rf"([?&;](?:{SECRET_NAMES})=)[^&;#\s\"']*", re.IGNORECASE)
# the authority holds no "/", so a greedy run stops at its last "@" (a password may hold "@")
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s]*(@)", re.IGNORECASE)
_SETTING = re.compile(r"(\b(?:password|passwd)\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def redact_text(text: str) -> str:
    """``text`` with URL passwords, secret query values and ``password=`` values masked."""
    text = _USERINFO.sub(rf"\1{MASK}\2", text)
    text = _PARAM.sub(rf"\1{MASK}", text)
    return _SETTING.sub(rf"\1{MASK}", text)


def redact_data(data: Any) -> Any:
    """``redact_text`` on every string in nested dicts and lists (a settings dump)."""
    if isinstance(data, str):
        return redact_text(data)
    if isinstance(data, dict):
        return {key: redact_data(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [redact_data(value) for value in data]
    return data


def secret_pattern(secret: str) -> re.Pattern:
    """Matches ``secret`` as written or in any percent-encoding of its UTF-8 bytes (upper
    or lower case hex, a space as ``+``), as a client may put it in a URL."""
    parts = []
    for char in secret:
        encoded = "".join(f"%{byte:02x}" for byte in char.encode("utf-8"))
        choices = [re.escape(char), re.escape(encoded)]
        if char == " ":
            choices.append(r"\+")
        parts.append(f"(?:{'|'.join(choices)})")
    return re.compile("".join(parts), re.IGNORECASE)
