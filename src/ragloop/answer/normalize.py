"""Answers reduced to a comparable key, so votes count meaning rather than wording."""

from __future__ import annotations

import re
import string

from ragloop.answer.citations import is_refusal, strip_markers

LABELS = ("yes", "no", "maybe")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def final_number(text: str) -> str | None:
    """The last number in ``text`` in canonical form (``1,200.50`` → ``1200.5``), or None."""
    found = _NUMBER.findall(strip_markers(text))
    if not found:
        return None
    raw = found[-1].replace(",", "")
    try:
        value = float(raw)
    except ValueError:
        return None
    return str(int(value)) if value.is_integer() else f"{value:g}"


def label(text: str) -> str | None:
    """yes/no/maybe when the answer starts with one of them, or names exactly one of them."""
    words = strip_markers(text).lower().translate(
        str.maketrans("", "", string.punctuation)).split()
    if words and words[0] in LABELS:
        return words[0]
    named = {w for w in words if w in LABELS}
    return named.pop() if len(named) == 1 else None


def answer_key(text: str) -> str:
    """The key answers are voted on: a refusal, a yes/no/maybe label, the final number, or
    the lower-cased text without citations, punctuation and articles."""
    if not text.strip() or is_refusal(text):
        return "<refused>"
    found = label(text)
    if found:
        return found
    number = final_number(text)
    if number is not None:
        return f"#{number}"
    plain = strip_markers(text).lower().translate(str.maketrans("", "", string.punctuation))
    return " ".join(_ARTICLES.sub(" ", plain).split())
