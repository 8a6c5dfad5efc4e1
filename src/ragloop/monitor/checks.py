"""The checks that need no model, on a stored trace: the grounding check (``answer.verify``:
the answer cites a retrieved chunk and most of its content words are in the chunks it cites)
and citation support (``evals.metrics.citations``, the eval run's metrics of the same names).

A trace keeps the chunks its answer was given (text cut at ``MAX_CHUNK_CHARS``), in marker
order, so ``[n]`` still points at the n-th of them.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from ragloop.answer.citations import markers
from ragloop.answer.verify import GroundingVerifier
from ragloop.evals.metrics.citations import citation_scores
from ragloop.records import Candidate, Chunk, OnlineScore, Trace

GROUNDED = "grounded"  # 1: the grounding check passed
SUPPORT = "grounding_support"  # share of the answer's content words in the cited chunks


def sampled(trace_id: str, rate: float, purpose: str = "monitor") -> bool:
    """Whether a trace is in a sample of ``rate``: a hash of its id, so every process that
    asks gets the same answer (the server, ``monitor run``, a rerun)."""
    if rate >= 1:
        return True
    point = int(hashlib.sha256(f"{purpose}:{trace_id}".encode()).hexdigest()[:8], 16) / 2**32
    return point < rate


def candidates_of(trace: Trace) -> list[Candidate]:
    """The trace's retrieved chunks as candidates (what the checks read)."""
    out = []
    for i, c in enumerate(trace.metadata.get("chunks") or []):
        chunk = Chunk(id=str(c.get("chunk_id", i)), doc_id=str(c.get("doc_id", "")), ordinal=i,
                      text=str(c.get("text", "")),
                      metadata={"source": c.get("source", ""), "title": c.get("title", "")})
        out.append(Candidate(chunk=chunk, score=float(c.get("score", 0.0))))
    return out


def refused(trace: Trace) -> bool:
    return bool(trace.metadata.get("refused"))


def cheap_scores(trace: Trace, *, now: datetime | None = None) -> list[OnlineScore]:
    """Grounding and citation scores of one trace; a refusal is skipped (nothing claimed,
    nothing to check)."""
    now = now or datetime.now(UTC)

    def score(metric: str, value: float | None, check: str, *, status: str = "ok",
              detail: str = "") -> OnlineScore:
        return OnlineScore(trace_id=trace.id, metric=metric, value=value, status=status,
                           detail=detail, check=check, created=now)

    if refused(trace) or not trace.answer.strip():
        why = "the answer is a refusal" if refused(trace) else "the answer is empty"
        return [score(m, None, c, status="skipped", detail=why)
                for m, c in ((GROUNDED, "grounding"), ("citation_precision", "citations"))]
    candidates = candidates_of(trace)
    verdict = GroundingVerifier().check(trace.question, trace.answer, candidates)
    out = [score(GROUNDED, float(verdict.passed), "grounding", detail=verdict.reason),
           score(SUPPORT, verdict.score, "grounding")]
    texts = {n: candidates[n - 1].chunk.text for n in markers(trace.answer)
             if 1 <= n <= len(candidates)}
    cited = citation_scores(trace.answer, texts)
    if "citation_precision" not in cited:
        out.append(score("citation_precision", None, "citations", status="skipped",
                         detail="the answer cites nothing"))
    out += [score(name, value, "citations") for name, value in sorted(cited.items())]
    return out
