"""Feedback → TRL SFT/DPO/KTO rows, de-duplicated and split; corrections → golden examples."""

from __future__ import annotations

import json

import pytest
from feedback_helpers import Recorder

from ragloop.evals.datasets import iter_dataset, write_dataset
from ragloop.feedback.export import EXPORTERS, judged_items
from ragloop.feedback.export.golden import golden_examples
from ragloop.feedback.export.schema import SchemaMismatch, validate_row
from ragloop.feedback.export.split import write_split


@pytest.fixture
def rated(recorder: Recorder):
    """q1 up (twice, identical: a duplicate), q2 down + corrected, q3 up vs down, q4 comment."""
    for _ in range(2):
        recorder.feedback(recorder.trace("What is q1?", "a1 [1]"), rating="up")
    q2 = recorder.trace("What is q2?", "wrong a2")
    recorder.feedback(q2, rating="down")
    recorder.feedback(q2, corrected="right a2 [1]")
    recorder.feedback(recorder.trace("What is q3?", "good a3"), rating="up")
    recorder.feedback(recorder.trace("what is  Q3?", "bad a3"), rating="down")
    recorder.feedback(recorder.trace("What is q4?", "a4"), comment="slow")
    return recorder.store


def _rows(store, fmt, **kw):
    return list(EXPORTERS[fmt].rows(judged_items(store, **kw)))


def _last(messages):
    return messages[-1]["content"]


def test_sft_rows_are_liked_and_corrected_answers(rated):
    rows = _rows(rated, "sft")
    assert sorted(_last(r["messages"]) for r in rows) == ["a1 [1]", "a1 [1]", "good a3",
                                                         "right a2 [1]"]
    user = rows[0]["messages"][0]
    assert user["role"] == "user" and "[1] A\nPassage about What is q1?" in user["content"]
    assert user["content"].endswith("Question: What is q1?")
    no_context = _rows(rated, "sft", with_context=False)
    assert no_context[0]["messages"][0]["content"] == "What is q1?"


def test_dpo_pairs_from_corrections_and_same_question_ratings(rated):
    pairs = {(_last(r["chosen"]), _last(r["rejected"])) for r in _rows(rated, "dpo")}
    assert pairs == {("right a2 [1]", "wrong a2"), ("good a3", "bad a3")}


def test_kto_labels_from_thumbs_and_corrections(rated):
    labelled = sorted((_last(r["completion"]), r["label"]) for r in _rows(rated, "kto"))
    assert labelled == [("a1 [1]", True), ("a1 [1]", True), ("bad a3", False),
                        ("good a3", True), ("right a2 [1]", True), ("wrong a2", False)]


@pytest.mark.parametrize("fmt", ["sft", "dpo", "kto"])
def test_split_dedups_is_seeded_and_keeps_prompts_on_one_side(rated, tmp_path, fmt):
    rows = _rows(rated, fmt)
    first = write_split(fmt, rows, tmp_path / "a" / f"{fmt}.jsonl", test_fraction=0.5, seed=3)
    again = write_split(fmt, rows, tmp_path / "b" / f"{fmt}.jsonl", test_fraction=0.5, seed=3)
    assert first.train_path.name == f"{fmt}.train.jsonl"
    assert first.train_path.read_text() == again.train_path.read_text()
    assert first.test_path.read_text() == again.test_path.read_text()
    train = [json.loads(x) for x in first.train_path.read_text().splitlines()]
    test = [json.loads(x) for x in first.test_path.read_text().splitlines()]
    assert first.n_train + first.n_test + first.n_duplicates == len(rows)
    assert first.n_test >= 1
    assert len({json.dumps(r, sort_keys=True) for r in train + test}) == len(train + test)

    def prompt(row):
        return json.dumps(row.get("prompt", row.get("messages", [])[:-1]))

    assert not {prompt(r) for r in train} & {prompt(r) for r in test}
    if fmt in ("sft", "kto"):
        assert first.n_duplicates == 1  # q1's identical liked answer
    for row in train + test:
        validate_row(fmt, row)


@pytest.mark.parametrize("fmt, row, words", [
    ("sft", {"messages": [{"role": "user", "content": "q"}]}, "end with a assistant"),
    ("sft", {"messages": [], "extra": 1}, "columns"),
    ("dpo", {"prompt": [{"role": "user", "content": "q"}],
             "chosen": [{"role": "assistant", "content": "a"}],
             "rejected": [{"role": "assistant", "content": "a"}]}, "same"),
    ("kto", {"prompt": [{"role": "user", "content": "q"}],
             "completion": [{"role": "assistant", "content": "a"}], "label": "yes"}, "label"),
    ("kto", {"prompt": [{"role": "robot", "content": "q"}],
             "completion": [{"role": "assistant", "content": "a"}], "label": True}, "role"),
])
def test_schema_rejects_rows_trl_cannot_read(fmt, row, words):
    with pytest.raises(SchemaMismatch, match=words):
        validate_row(fmt, row)


def test_exports_load_with_the_datasets_json_loader(rated, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets", reason="datasets (test extra)")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    expected = {"sft": ["messages"], "dpo": ["prompt", "chosen", "rejected"],
                "kto": ["prompt", "completion", "label"]}
    for fmt, columns in expected.items():
        result = write_split(fmt, _rows(rated, fmt), tmp_path / f"{fmt}.jsonl",
                             test_fraction=0.3, seed=0)
        loaded = datasets.load_dataset(
            "json", data_files={"train": str(result.train_path), "test": str(result.test_path)},
            cache_dir=str(tmp_path / "hf-cache"))
        assert loaded["train"].column_names == columns
        assert loaded["train"].num_rows == result.n_train
        assert loaded["test"].num_rows == result.n_test
        first = loaded["train"][0]
        message_column = "messages" if fmt == "sft" else "prompt"
        assert first[message_column][0]["role"] == "user"
        if fmt == "kto":
            assert isinstance(first["label"], bool)


def test_corrections_become_golden_examples_the_evals_can_read(rated, recorder, tmp_path):
    q5 = recorder.trace("What is q5?", "old")
    recorder.feedback(q5, corrected="no citation here")
    path = tmp_path / "golden.jsonl"
    assert write_dataset(path, golden_examples(rated)) == 2
    examples = {e.question: e for e in iter_dataset(path)}
    q2 = examples["What is q2?"]
    assert q2.reference_answers == ("right a2 [1]",)
    assert q2.gold_doc_ids == ("d-1",) and len(q2.gold_chunk_ids) == 1
    assert "feedback" in q2.tags
    assert examples["What is q5?"].gold_doc_ids == ()
