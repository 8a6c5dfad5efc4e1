"""Text → index terms for BM25: lowercase words of two or more characters, English stopwords
removed, Snowball-stemmed. The same analyser serves indexing and queries.

Stopwords come from ``bm25s`` and stemming from ``PyStemmer`` (the Snowball algorithms), so
ragloop's BM25 sees the same terms as the ``bm25s`` baseline it is benchmarked against.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_WORD = re.compile(r"(?u)\b\w\w+\b")
_STOPWORDS = frozenset(STOPWORDS_EN)
_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


def analyze(text: str) -> list[str]:
    """The index terms of ``text``, in order, repeats kept."""
    return [_stem(word) for word in _WORD.findall(text.lower()) if word not in _STOPWORDS]


def analyze_words(text: str) -> list[tuple[str, str]]:
    """(word, index term) for each word of ``text`` that ``analyze`` keeps, in order: the
    term is what BM25 matches, the word what a person (or an embedder) reads."""
    return [(word, _stem(word)) for word in _WORD.findall(text.lower())
            if word not in _STOPWORDS]


def term_counts(text: str) -> Counter[str]:
    return Counter(analyze(text))
