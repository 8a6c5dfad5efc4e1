"""Extract: an answer made only of sentences of the retrieved chunks, with no generation.

Every sentence of the packed candidates is scored against the question with the signals
ragloop already has, each scaled to 0..1 over the sentences of this question:

- ``bm25``: BM25 of the question's index terms (``index.analyze``) over the sentences, with
  the sentence's chunk header (title and section path) counted as part of its text, the way
  the index sees a chunk;
- ``dense``: cosine similarity of the question and ``header: sentence`` with the configured
  embedder (left out, and said so in metadata, when no embedder is given);
- ``terms``: the share of the question's distinct index terms the sentence holds, each
  weighted by its idf over the sentences (question words such as "which" left out);
- ``focus``: whether the sentence (with its header) holds the question's focus noun, the
  last word between "which/what" and the verb ("which file *formats* can ..."), when the
  question has one.

The best sentence is the answer; a sentence next to it in the same chunk joins when it
scores nearly as well (a definition often runs over two sentences), and for "how do I ..."
the next sentence joins (the steps follow the sentence that names what to use). The text is the
sentences verbatim with a ``[n]`` marker each, so every word is grounded, and each
citation's ``quote`` is the exact sentence (its character span in the chunk is in
``metadata["sentences"]``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ragloop.answer.citations import extract_citations, strip_markers, with_markers
from ragloop.answer.grounded import GroundedStrategy, finish, refusal
from ragloop.answer.strategies import STRATEGIES
from ragloop.index.analyze import analyze
from ragloop.index.bm25 import K1, idf
from ragloop.records import SearchQuery

# A sentence ends at . ! or ? (after optional closing quotes/brackets/backticks) followed by
# white space and a capital, a digit or an opening quote/bracket/backtick. Decimals and file
# extensions (".md") have no space after the dot, so they never end a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]`]*\s+(?=[\"'(\[`]?[A-Z0-9`])")
# Abbreviations whose dot must not end a sentence even before a capital.
_ABBREVIATION = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|cf|approx|fig|Dr|Mr|Mrs|Ms)\.)$",
                           re.IGNORECASE)
_BLOCK_BREAK = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*+]\s|\d+[.)]\s|#{1,6}\s|\|))")
_HEADING = re.compile(r"^\s*#{1,6}\s")
_QUESTION_TERMS = frozenset(analyze(
    "which what who whom whose when where why how do does did can could would should may "
    "might must shall will is are was were be"))
# "which file formats can ...": the words between which/what and the verb name the kind of
# thing asked for; the last of them ("formats") is the question's focus.
_FOCUS = re.compile(r"\b(?:which|what)\s+((?:[\w'.-]+\s+){1,4}?)(?:do|does|did|can|could|is|are|"
                    r"was|were|will|would|should|has|have|must)\b", re.IGNORECASE)
_PROCEDURE = re.compile(r"^\s*how\s+(?:do|can|should|would)\s+(?:i|we|you)\b|^\s*how\s+to\b",
                        re.IGNORECASE)
_MIN_WORDS = 4  # shorter pieces (a table cell, "Example:") carry no answer on their own

WEIGHTS = {"bm25": 0.3, "dense": 0.3, "terms": 0.2, "focus": 0.2}
SENTENCE_B = 0.3  # BM25 length normalisation at sentence level (the index uses 0.75)
NEIGHBOUR_RATIO = 0.95  # a next/previous sentence joins when it scores this close to the best
MAX_SENTENCES = 2
MIN_DENSE = 0.2  # with no question term in any sentence, below this cosine nothing answers


@dataclass(frozen=True)
class Sentence:
    marker: int  # the candidate's [n]
    chunk_id: str
    index: int  # position among the chunk's sentences
    start: int  # character span in the chunk's text
    end: int
    text: str
    header: str


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text``: blocks (paragraphs, list items, table
    rows, headings) first, then sentence ends inside each block. Headings are skipped."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for brk in [*_BLOCK_BREAK.finditer(text), None]:
        end = brk.start() if brk else len(text)
        block_start = cursor
        cursor = brk.end() if brk else len(text)
        if _HEADING.match(text[block_start:end]):
            continue
        piece_start = block_start
        for match in _SENTENCE_END.finditer(text, block_start, end):
            if _ABBREVIATION.search(text[piece_start:match.start()]):
                continue
            spans.append((piece_start, match.start()))
            piece_start = match.end()
        spans.append((piece_start, end))
    return [s for s in (_strip(text, a, b) for a, b in spans) if s[1] > s[0]]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentences_of(candidates) -> list[Sentence]:
    out = []
    for marker, candidate in enumerate(candidates, start=1):
        chunk = candidate.chunk
        spans = split_sentences(chunk.text)
        for index, (start, end) in enumerate(spans):
            text = " ".join(chunk.text[start:end].split())
            if len(text.split()) >= _MIN_WORDS:
                out.append(Sentence(marker, chunk.id, index, start, end, text,
                                    " ".join(chunk.header.split())))
    return out


def bm25_scores(query_terms: Sequence[str], documents: Sequence[Sequence[str]]) -> np.ndarray:
    """BM25 of ``query_terms`` over ``documents`` (term lists), with the index's idf
    (``index.bm25.idf``) and collection statistics taken from these documents, and a milder
    length normalisation (``SENTENCE_B``): sentences vary far less in length than chunks,
    and the long ones are often the informative lists an answer needs."""
    n = len(documents)
    scores = np.zeros(n)
    if not n:
        return scores
    doc_len = np.array([len(d) for d in documents], dtype=float)
    norm = K1 * (1 - SENTENCE_B + SENTENCE_B * doc_len / (float(doc_len.mean()) or 1.0))
    for term in set(query_terms):
        tf = np.array([d.count(term) for d in documents], dtype=float)
        df = np.count_nonzero(tf)
        if df:
            scores += idf(n, np.array([df], dtype=float))[0] * tf * (K1 + 1) / (tf + norm)
    return scores


def _scaled(values: np.ndarray) -> np.ndarray:
    top = float(values.max()) if len(values) else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def question_terms(question: str) -> list[str]:
    """The question's index terms without its question words ("which", "how", "can"), which
    the index's stopword list keeps but which never say what is asked about."""
    return [t for t in analyze(question) if t not in _QUESTION_TERMS]


def focus_term(question: str) -> str | None:
    """The index term of the question's focus noun, or None (see ``_FOCUS``)."""
    match = _FOCUS.search(question)
    terms = analyze(match.group(1)) if match else []
    return terms[-1] if terms else None


def score_sentences(question: str, sentences: Sequence[Sentence], embedder=None
                    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Combined score per sentence, and each signal (0..1) by name."""
    query_terms = question_terms(question)
    texts = [f"{s.header}: {s.text}" if s.header else s.text for s in sentences]
    terms = [analyze(t) for t in texts]
    signals = {"bm25": _scaled(bm25_scores(query_terms, terms))}
    # coverage of the question's terms, each weighted by its idf over these sentences, so a
    # sentence holding the rare term asked about beats one repeating the common ones
    distinct = sorted(set(query_terms))
    df = np.array([sum(t in doc for doc in terms) for t in distinct], dtype=float)
    weight = idf(len(terms), df) if distinct else np.zeros(0)
    signals["terms"] = np.array([
        float(sum(w for t, w in zip(distinct, weight, strict=True) if t in set(doc))
              / weight.sum()) if weight.sum() > 0 else 0.0 for doc in terms])
    focus = focus_term(question)
    if focus:
        signals["focus"] = np.array([float(focus in doc) for doc in terms])
    if embedder is not None and sentences:
        query = np.asarray(embedder.embed_queries([question])[0], dtype=np.float32)
        cosine = np.asarray(embedder.embed_passages(texts), dtype=np.float32) @ query
        signals["cosine"] = cosine
        signals["dense"] = _scaled(np.clip(cosine, 0.0, None))
    weights = {k: w for k, w in WEIGHTS.items() if k in signals}
    total = sum(weights.values())
    combined = sum(signals[k] * (w / total) for k, w in weights.items())
    return np.asarray(combined, dtype=float), signals


def score_query(query: str | SearchQuery, sentences: Sequence[Sentence], embedder=None
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``score_sentences`` for a weighted query: each part scored on its own, then averaged
    by weight, so the terms a follow-up carries from earlier turns only break ties between
    sentences its own words match ("what about the dense one?" after a turn on bm25 quotes
    the dense sentence, not the bm25 one the carried terms would favour as one text)."""
    if isinstance(query, str):
        return score_sentences(query, sentences, embedder)
    parts = [p for p in query.parts if p.text.strip() and p.weight > 0]
    if not parts:
        return score_sentences("", sentences, embedder)
    total = sum(p.weight for p in parts)
    combined = np.zeros(len(sentences))
    signals: dict[str, np.ndarray] = {}
    for part in parts:
        part_scores, part_signals = score_sentences(part.text, sentences, embedder)
        combined += part_scores * (part.weight / total)
        for name, values in part_signals.items():
            signals[name] = signals.get(name, 0.0) + values * (part.weight / total)
    return combined, signals


def select(question: str, sentences: Sequence[Sentence], scores: np.ndarray) -> list[int]:
    """Indices of the chosen sentences, in reading order: the best one, and a neighbour in
    the same chunk that scores within ``NEIGHBOUR_RATIO`` of it; for a "how do I" question
    the sentence after the best one also joins, because steps run on past the sentence that
    names what to use."""
    best = int(np.argmax(scores))
    chosen = [best]
    same_chunk = {s.index: i for i, s in enumerate(sentences)
                  if s.chunk_id == sentences[best].chunk_id}
    after = same_chunk.get(sentences[best].index + 1)
    if after is not None and _PROCEDURE.search(question):
        chosen.append(after)
    neighbours = [same_chunk[j] for j in (sentences[best].index + 1, sentences[best].index - 1)
                  if j in same_chunk and same_chunk[j] not in chosen]
    for i in sorted(neighbours, key=lambda i: -scores[i]):
        if len(chosen) < MAX_SENTENCES and scores[i] >= NEIGHBOUR_RATIO * scores[best]:
            chosen.append(i)
    return sorted(chosen, key=lambda i: (sentences[i].marker, sentences[i].index))


def relevance(question: str, texts: Sequence[str], embedder=None) -> list[float]:
    """How well each text addresses ``question``, 0..1, measured the same way for any text
    (the router compares a generated answer with the extracted one): the share of the
    question's index terms the text holds, averaged with the embedding cosine when an
    embedder is given. Citation markers are ignored."""
    distinct = set(question_terms(question))
    bare = [strip_markers(t) for t in texts]
    coverage = [len(distinct & set(analyze(t))) / len(distinct) if distinct else 0.0
                for t in bare]
    if embedder is None:
        return coverage
    query = np.asarray(embedder.embed_queries([question])[0], dtype=np.float32)
    cosine = np.asarray(embedder.embed_passages(bare), dtype=np.float32) @ query
    return [(c + max(0.0, float(d))) / 2 for c, d in zip(coverage, cosine, strict=True)]


@STRATEGIES.register("extract")
class ExtractStrategy(GroundedStrategy):
    """No model call: ``llm`` may be None."""

    name = "extract"

    def __init__(self, settings, *, llm=None, **parts):
        super().__init__(settings, llm=llm, **parts)

    def answer(self, request, candidates, tally):
        question = request.question
        sentences = sentences_of(candidates)
        if not sentences:
            return refusal(question, candidates, "no sentences in the retrieved chunks",
                           strategy=self.name, tally=tally)
        # a follow-up is scored in its standalone form: "and the other one?" has no terms
        question = request.query_text
        scores, signals = score_query(request.query, sentences, self.embedder)
        cosine = signals.get("cosine")
        if not signals["terms"].any() and (cosine is None or float(cosine.max()) < MIN_DENSE):
            return refusal(request.question, candidates, "no sentence matches the question",
                           strategy=self.name, tally=tally)
        chosen = select(question, sentences, scores)
        # a sentence may say "[2]" in its own words (docs about citations, code like a[2]):
        # in the answer only its own marker may read as a citation
        text = " ".join(with_markers(strip_markers(sentences[i].text), [sentences[i].marker])
                        for i in chosen)
        picked = [{"marker": sentences[i].marker, "chunk_id": sentences[i].chunk_id,
                   "start": sentences[i].start, "end": sentences[i].end,
                   "score": round(float(scores[i]), 4),
                   "signals": {k: round(float(v[i]), 4) for k, v in signals.items()}}
                  for i in chosen]
        meta = {"sentences": picked, "scored": len(sentences),
                "signals_used": sorted(k for k in WEIGHTS if k in signals)}
        answer = finish(request.question, text, candidates, strategy=self.name, tally=tally,
                        confidence=float(scores[chosen[0]]), metadata=meta)
        quotes: dict[int, list[str]] = {}
        for i in chosen:
            quotes.setdefault(sentences[i].marker, []).append(sentences[i].text)
        citations, _ = extract_citations(text, candidates)
        citations = tuple(c.model_copy(update={"quote": " ".join(quotes[c.marker])})
                          for c in citations)
        # A quoted sentence may itself read like a refusal ("... the documents do not say");
        # it is still the documents' own words, so it is never treated as one.
        meta = {k: v for k, v in answer.metadata.items() if k != "refusal_reason"}
        return answer.model_copy(update={"citations": citations, "refused": False,
                                         "metadata": meta})
