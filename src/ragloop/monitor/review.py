"""The review queue: unlabelled recent traces, ordered by what is worth a human's minute.

1. thumbs down — a user already said it is wrong;
2. low online scores — the checks agree it is bad (a failed verdict, a graded score under
   ``[monitor] low_score``), most failures first;
3. disagreement — the faithfulness checks contradict each other (the grounding check passes,
   the likelihood judge does not ...): exactly the items whose label says which to trust;
4. a random sample of the rest — seeded by trace id, so the order is stable between page
   loads and unbiased by the checks (calibration needs answers the checks like too).

Traces with any label are left out: one look per answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ragloop.evals.likelihood import VERDICT_METRIC
from ragloop.feedback.db import Database
from ragloop.feedback.labels import LabelStore
from ragloop.feedback.scores import ScoreStore
from ragloop.feedback.window import feedback_of, recent_traces
from ragloop.monitor.checks import GROUNDED, SUPPORT
from ragloop.records import Feedback, OnlineScore, Trace

THUMBS_DOWN, LOW, DISAGREE, RANDOM = range(4)
BUCKETS = ("thumbs down", "low score", "checks disagree", "random sample")
# verdicts (1 pass, 0 fail); the first three all judge faithfulness, so they can disagree
FAITHFULNESS_VERDICTS = (GROUNDED, VERDICT_METRIC, "judge_faithfulness")
VERDICTS = (*FAITHFULNESS_VERDICTS, "judge_relevancy")
GRADED = (SUPPORT, "citation_precision")
SHORT = {GROUNDED: "grounding", VERDICT_METRIC: "likelihood", "judge_faithfulness":
         "faithfulness judge", "judge_relevancy": "relevancy judge"}


@dataclass(frozen=True)
class ReviewItem:
    trace: Trace
    feedback: tuple[Feedback, ...]
    scores: dict[str, OnlineScore]
    bucket: int
    reason: str

    @property
    def rating(self) -> str | None:
        rated = [f.rating for f in self.feedback if f.rating]
        return rated[-1] if rated else None


def _ok(scores: dict[str, OnlineScore], names) -> dict[str, float]:
    return {n: scores[n].value for n in names
            if n in scores and scores[n].status == "ok" and scores[n].value is not None}


def classify(scores: dict[str, OnlineScore], rating: str | None,
             low_score: float) -> tuple[int, str, float]:
    """(bucket, reason, how bad: lower first within a bucket)."""
    if rating == "down":
        return THUMBS_DOWN, "thumbs down", 0.0
    verdicts = _ok(scores, VERDICTS)
    family = {n: v for n, v in verdicts.items() if n in FAITHFULNESS_VERDICTS}
    if {0.0, 1.0} <= set(family.values()):
        said = ", ".join(f"{SHORT[n]} {'pass' if v else 'fail'}" for n, v in family.items())
        return DISAGREE, f"checks disagree: {said}", 0.0
    failed = [SHORT[n] + " fail" for n, v in verdicts.items() if v == 0.0]
    graded = _ok(scores, GRADED)
    failed += [f"{n} {v:.2f}" for n, v in graded.items() if v < low_score]
    if failed:
        worst = min([*graded.values(), 1.0])
        return LOW, "low score: " + ", ".join(failed), -len(failed) + worst
    return RANDOM, "random sample", 0.0


def _shuffle_key(trace_id: str, seed: int) -> str:
    return hashlib.sha256(f"review:{seed}:{trace_id}".encode()).hexdigest()


def order_queue(traces: list[Trace], feedback: dict[str, tuple[Feedback, ...]],
                scores: dict[str, dict[str, OnlineScore]], labelled: set[str], *,
                low_score: float = 0.5, seed: int = 0) -> list[ReviewItem]:
    """``traces`` newest first (as stored); the unlabelled ones in review order."""
    ranked = []
    for position, trace in enumerate(traces):
        if trace.id in labelled:
            continue
        mine = scores.get(trace.id, {})
        given = feedback.get(trace.id, ())
        rated = [f.rating for f in given if f.rating]
        bucket, reason, badness = classify(mine, rated[-1] if rated else None, low_score)
        within = _shuffle_key(trace.id, seed) if bucket == RANDOM else (badness, position)
        ranked.append(((bucket, within), ReviewItem(trace, given, mine, bucket, reason)))
    ranked.sort(key=lambda pair: pair[0])
    return [item for _, item in ranked]


def review_queue(db: Database, labels: LabelStore, scores: ScoreStore, *, window: int = 2000,
                 limit: int = 20, low_score: float = 0.5, seed: int = 0) -> list[ReviewItem]:
    """The first ``limit`` items of the queue over the last ``window`` traces."""
    traces = recent_traces(db, window)
    ids = [t.id for t in traces]
    queue = order_queue(traces, feedback_of(db, ids), scores.for_traces(ids),
                        labels.labelled(ids), low_score=low_score, seed=seed)
    return queue[:limit]
