"""Corrected answers → golden eval examples (``EvalExample``; written by
``ragloop.evals.datasets.write_dataset``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ragloop.feedback.store import TraceStore
from ragloop.records import EvalExample

MARKER = re.compile(r"\[(\d+)\]")


def golden_examples(store: TraceStore) -> Iterator[EvalExample]:
    """One example per distinct question whose answer a user corrected (the latest correction
    of that question wins). Gold documents and chunks are the ones the *correction* cites with
    the trace's ``[n]`` markers; a correction citing nothing gives none."""
    latest: dict[str, EvalExample] = {}
    for item in store.iter_with_feedback():
        correction = item.latest_correction
        if not correction:
            continue
        key = " ".join(item.trace.question.lower().split())
        by_marker = {c["marker"]: c for c in item.trace.metadata.get("citations", [])}
        cited = [by_marker[n] for n in map(int, MARKER.findall(correction)) if n in by_marker]
        latest[key] = EvalExample(
            id=f"feedback-{item.trace.id}", question=item.trace.question,
            reference_answers=(correction,),
            gold_doc_ids=tuple(dict.fromkeys(c["doc_id"] for c in cited)),
            gold_chunk_ids=tuple(dict.fromkeys(c["chunk_id"] for c in cited)),
            tags=("feedback", "corrected"),
            metadata={"trace_id": item.trace.id, "original_answer": item.trace.answer})
    yield from latest.values()
