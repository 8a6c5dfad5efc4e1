"""Human labels and the review queue (issue 28 item 2): labels stored in the project with
who and when and one split per trace, ``POST/GET /v1/labels``, ``ragloop labels list |
export`` in the calibration format, ``eval calibrate`` on the project's labels by default;
the queue ordered thumbs down, low scores, disagreement, then a random sample."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from monitor_helpers import GOOD, INVENTED, NOW, answer, store
from serve_helpers import LOCAL
from typer.testing import CliRunner

from ragloop.cli import app
from ragloop.config import parse_settings
from ragloop.evals.calibrate import (
    PROJECT_SOURCE,
    calibration_labels,
    load_labels,
    project_labels,
)
from ragloop.evals.judge_agreement import SHIPPED_SOURCE
from ragloop.feedback.db import Database
from ragloop.feedback.labels import LabelStore, hashed_split
from ragloop.feedback.scores import ScoreStore
from ragloop.feedback.store import TraceStore
from ragloop.monitor.batch import score_stored
from ragloop.monitor.review import BUCKETS, review_queue
from ragloop.monitor.scorer import TraceScorer
from ragloop.records import Feedback, OnlineScore

runner = CliRunner()


@pytest.fixture
def traces(tmp_path):
    store_ = TraceStore.for_data_dir(tmp_path)
    yield store_
    store_.close()


def test_labels_keep_who_and_when_and_one_split_per_trace(traces, tmp_path):
    good, bad = store(traces, GOOD), store(traces, INVENTED)
    db = Database.for_data_dir(tmp_path)
    labels = LabelStore(db, train_share=0.5)
    first = labels.add(good, "faithfulness", 1, reviewer=" ana ", note="quotes the chunk")
    assert first.reviewer == "ana" and first.created.tzinfo is not None
    assert first.split == hashed_split(good.id, 0.5) and "Moon" in first.context
    # a later label of the same trace stays in its split, whatever the share is now
    moved = LabelStore(db, train_share=1.0 if first.split == "test" else 0.0)
    assert moved.add(good, "relevance", 1).split == first.split
    relabel = labels.add(good, "faithfulness", 0, note="on second look")
    labels.add(bad, "faithfulness", 0)
    assert [lb.id for lb in labels.list(trace_id=good.id, metric="faithfulness")] == [
        relabel.id, first.id]  # newest first
    latest = {(lb.trace_id, lb.metric): lb.label for lb in labels.latest()}
    assert latest == {(good.id, "faithfulness"): 0, (good.id, "relevance"): 1,
                      (bad.id, "faithfulness"): 0}  # a relabel replaces, never counts twice
    # about train_share of many traces go to train
    splits = [hashed_split(f"t{i}", 0.3) for i in range(1000)]
    assert 0.25 < splits.count("train") / 1000 < 0.35
    db.close()


def test_label_api_returns_201_with_id_and_split_and_filters(tmp_path):
    from serve_fake_pipeline import FakePipeline

    from ragloop.serve.app import create_app

    settings = parse_settings({"monitor": {"enabled": False}})
    with TestClient(create_app(FakePipeline(), settings, data_dir=tmp_path / "data"),
                    base_url=LOCAL) as client:
        ids = [client.post("/v1/ask", json={"question": q}).json()["trace_id"]
               for q in ("Why tides?", "What are tides?")]
        made = client.post("/v1/labels", json={"trace_id": ids[0], "metric": "faithfulness",
                                               "label": 1, "note": "cites the Moon chunk"})
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["id"] and body["split"] in ("train", "test") and body["label"] == 1
        assert body["note"] == "cites the Moon chunk" and body["created"]
        assert "context" not in body  # the stored context is long; the API leaves it out
        assert client.post("/v1/labels", json={"trace_id": ids[1], "metric": "relevance",
                                               "label": 0}).status_code == 201
        unknown = client.post("/v1/labels", json={"trace_id": "nope", "metric": "relevance",
                                                  "label": 1})
        assert unknown.status_code == 404
        for bad in ({"trace_id": ids[0], "metric": "helpful", "label": 1},
                    {"trace_id": ids[0], "metric": "relevance", "label": 2}):
            assert client.post("/v1/labels", json=bad).status_code == 422
        listed = client.get("/v1/labels").json()["labels"]
        assert [lb["trace_id"] for lb in listed] == [ids[1], ids[0]]
        only = client.get("/v1/labels", params={"metric": "faithfulness"}).json()["labels"]
        assert [lb["id"] for lb in only] == [body["id"]]
        mine = client.get("/v1/labels", params={"trace_id": ids[1]}).json()["labels"]
        assert [lb["metric"] for lb in mine] == ["relevance"]


def test_labels_list_and_export_in_the_calibration_format(project, tmp_path):
    traces = TraceStore.for_data_dir(project.data_dir)
    good, bad = store(traces, GOOD), store(traces, INVENTED)
    traces.add_feedback(Feedback(id="f1", trace_id=bad.id, created=NOW + timedelta(seconds=5),
                                 corrected_answer="The Moon's gravity causes tides [1]."))
    traces.close()
    db = Database.for_data_dir(project.data_dir)
    labels = LabelStore(db)
    labels.add(good, "faithfulness", 1, reviewer="ana")
    labels.add(bad, "faithfulness", 0, reviewer="ana")
    labels.add(bad, "correctness", 0)  # its correction is the reference
    labels.add(good, "correctness", 1)  # no correction: no reference, left out
    labels.add(good, "relevance", 1)
    db.close()
    listed = runner.invoke(app, ["-p", str(project.root), "labels", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert len(rows) == 5 and {r["reviewer"] for r in rows} == {"ana", ""}
    table = runner.invoke(app, ["-p", str(project.root), "labels", "list", "--metric",
                                "faithfulness"])
    assert table.exit_code == 0 and table.output.count("ana") == 2
    out = tmp_path / "labels.jsonl"
    exported = runner.invoke(app, ["-p", str(project.root), "labels", "export", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "1 correctness labels without a correction" in exported.output
    items = load_labels(out)  # what `ragloop eval calibrate OUT.jsonl` reads
    assert sorted(i.judge for i in items) == ["correctness", "faithfulness", "faithfulness",
                                              "relevancy"]
    correctness = next(i for i in items if i.judge == "correctness")
    assert correctness.human == "incorrect" and "Moon's gravity" in correctness.reference
    faithful = {i.answer: i.human for i in items if i.judge == "faithfulness"}
    assert faithful[GOOD.text] == "faithful" and faithful[INVENTED.text] == "unfaithful"


def test_calibrate_reads_the_project_labels_and_the_shipped_set_only_without_them(project):
    assert calibration_labels(None, project.data_dir).source == SHIPPED_SOURCE
    traces = TraceStore.for_data_dir(project.data_dir)
    good = store(traces, GOOD)
    traces.close()
    db = Database.for_data_dir(project.data_dir)
    LabelStore(db).add(good, "faithfulness", 1)
    db.close()
    found = calibration_labels(None, project.data_dir)
    assert found.source == PROJECT_SOURCE and len(found.items) == 1
    assert project_labels(project.data_dir).items[0].context.startswith("[1] Ocean tides")


def _score(trace_id: str, metric: str, value: float) -> OnlineScore:
    return OnlineScore(trace_id=trace_id, metric=metric, value=value, check="test",
                       created=NOW)


def test_review_queue_thumbs_down_then_low_scores_then_disagreement_then_random(traces,
                                                                                tmp_path):
    db = Database.for_data_dir(tmp_path)
    scores, labels = ScoreStore(db), LabelStore(db)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    fine = [store(traces, GOOD, at=at + timedelta(minutes=i)) for i in range(4)]
    invented = store(traces, INVENTED, at=at + timedelta(minutes=10))
    disliked = store(traces, GOOD, at=at + timedelta(minutes=11), rating="down")
    liked = store(traces, GOOD, at=at + timedelta(minutes=12), rating="up")
    disputed = store(traces, GOOD, at=at + timedelta(minutes=13))
    done = store(traces, INVENTED, at=at + timedelta(minutes=14), rating="down")
    score_stored(TraceScorer(parse_settings({}).monitor), db, scores)  # the cheap checks
    # the likelihood judge says unfaithful where the grounding check passed
    scores.put([_score(disputed.id, "judge_faithfulness_likelihood", 0.0)])
    labels.add(done, "faithfulness", 0)
    queue = review_queue(db, labels, scores, limit=20)
    order = [item.trace.id for item in queue]
    assert order[0] == disliked.id and queue[0].reason == "thumbs down"
    assert order[1] == invented.id and queue[1].reason.startswith("low score: grounding fail")
    assert order[2] == disputed.id and BUCKETS[queue[2].bucket] == "checks disagree"
    assert "likelihood fail" in queue[2].reason
    rest = order[3:]
    assert sorted(rest) == sorted([t.id for t in fine] + [liked.id])  # labelled: left out
    assert {BUCKETS[i.bucket] for i in queue[3:]} == {"random sample"}
    assert rest == [i.trace.id for i in review_queue(db, labels, scores)[3:]]  # stable
    assert [i.trace.id for i in review_queue(db, labels, scores, limit=2)] == order[:2]
    db.close()


def test_a_label_of_a_trace_without_context_says_why_it_is_not_an_item(traces, tmp_path):
    bare = answer("Tides are tidal.")
    trace = store(traces, bare.model_copy(update={"candidates": ()}))
    db = Database.for_data_dir(tmp_path)
    LabelStore(db).add(trace, "faithfulness", 1)
    db.close()
    found = project_labels(tmp_path)
    assert found.items == [] and "no retrieved context" in found.describe()
