"""Conversations in golden sets: a line with ``turns`` is one example per turn, each with
the turns before it as its history; ``eval run`` scores a follow-up searched with its
history and, beside it, the same follow-up searched alone (``alone_hit@k`` ...)."""

from __future__ import annotations

import json

import pytest

from ragloop.errors import DatasetError
from ragloop.evals.datasets import load_dataset
from ragloop.evals.runner import RunOptions, run_eval
from ragloop.evals.runs import read_records
from real_project import DOCS, ingested_project

SUN = {"sun.md": "# The Sun\n\nThe Sun is a star. Its light takes about eight minutes to "
                 "reach the Earth, and its force holds the planets in orbit.\n"}


def _line(**fields) -> str:
    return json.dumps(fields) + "\n"


def test_a_conversation_line_becomes_one_example_per_turn(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text(_line(id="q", question="alone?") + _line(id="c", tags=["chat"], turns=[
        {"question": "What causes ocean tides?", "reference_answers": ["the Moon"]},
        {"question": "And the Sun?", "gold_doc_ids": ["d1"]},
        {"question": "How strong?"}]))
    single, *turns = load_dataset(path)
    assert single.id == "q" and single.history == ()
    assert [t.id for t in turns] == ["c#1", "c#2", "c#3"]
    assert turns[0].history == () and turns[1].gold_doc_ids == ("d1",)
    assert [(h.question, h.answer) for h in turns[2].history] == [
        ("What causes ocean tides?", "the Moon"), ("And the Sun?", "")]
    assert turns[2].tags == ("chat",) and turns[2].metadata == {"conversation": "c", "turn": 3}

    path.write_text(_line(id="c", turns=[{"id": "x", "question": "q"}]))
    with pytest.raises(DatasetError, match="line 1.*set by the conversation|set by the"):
        load_dataset(path)
    path.write_text(_line(id="c", turns=[]))
    with pytest.raises(DatasetError, match="non-empty list"):
        load_dataset(path)


@pytest.mark.real_model
def test_eval_run_scores_follow_ups_with_and_without_history(tmp_path):
    from ragloop.pipeline import Pipeline

    project = ingested_project(tmp_path / "proj", docs={**DOCS, **SUN}, max_tokens=6,
                               tail='[chat]\ncondense = "carry"\n')
    with Pipeline(project, use_cache=False) as pipeline:
        tides = next(e.doc_id for e in pipeline.store.documents() if "tides" in e.source)
        dataset = tmp_path / "gold.jsonl"
        dataset.write_text(_line(id="c", turns=[
            {"question": "What causes ocean tides?", "reference_answers": ["the Moon"],
             "gold_doc_ids": [tides]},
            {"question": "How big is the Sun's force?", "gold_doc_ids": [tides],
             "reference_answers": ["a smaller tidal force"]}]))
        result = run_eval(pipeline, dataset, options=RunOptions(workers=1, report=False))
    first, follow = sorted(read_records(result.run_dir), key=lambda r: r.id)
    assert follow.error is None, follow.traceback
    assert "alone_hit@1" not in first.scores and first.search_query == ""
    assert follow.history[0].question == "What causes ocean tides?"
    assert "tide" in follow.search_query.lower()
    assert follow.scores["hit@1"] == 1.0 and follow.scores["alone_hit@1"] == 0.0
    assert result.aggregates["metrics"]["alone_hit@1"]["n"] == 1
