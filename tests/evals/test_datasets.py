import json

import pytest

from ragloop.errors import DatasetError
from ragloop.evals.datasets import load_dataset, write_dataset
from ragloop.evals.import_beir import iter_beir_examples
from ragloop.evals.import_pubmedqa import iter_pubmedqa_examples, write_pubmedqa_corpus
from ragloop.records import EvalExample


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_round_trip(tmp_path):
    examples = [EvalExample(id="a", question="q?", reference_answers=("r",), label="yes",
                            gold_doc_ids=("d1",), tags=("t",)),
                EvalExample(id="b", question="q2?")]
    path = tmp_path / "gold.jsonl"
    assert write_dataset(path, examples) == 2
    assert load_dataset(path) == examples
    assert load_dataset(path, limit=1) == examples[:1]


@pytest.mark.parametrize("bad, message", [
    ('{"id": "x", "question": "q"', "not valid JSON"),
    ('["x"]', "expected a JSON object"),
    ('{"id": "x"}', "missing required field 'question'"),
    ('{"id": "x", "question": "q", "answer": "y"}', "unknown field 'answer'"),
    ('{"id": "x", "question": "q", "reference_answers": "y"}', "must be a list"),
    ('{"id": "x", "question": "  "}', "'question' is empty"),
    ('{"id": "a", "question": "again"}', "duplicate id 'a' (first on line 1)"),
])
def test_malformed_line_is_rejected_naming_the_line(tmp_path, bad, message):
    path = write_lines(tmp_path / "gold.jsonl",
                       ['{"id": "a", "question": "fine"}', "", bad])
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert err.value.line == 3
    assert "gold.jsonl:3: " in str(err.value) and message in str(err.value)


def test_empty_and_missing(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "nope.jsonl")
    with pytest.raises(DatasetError, match="no examples"):
        load_dataset(write_lines(tmp_path / "e.jsonl", [""]))


def test_beir_import(tmp_path):
    (tmp_path / "qrels").mkdir()
    write_lines(tmp_path / "queries.jsonl", [json.dumps({"_id": "1", "text": "q one"}),
                                             json.dumps({"_id": "2", "text": "q two"})])
    write_lines(tmp_path / "qrels" / "test.tsv",
                ["query-id\tcorpus-id\tscore", "1\td1\t1", "1\td2\t1", "1\td3\t0"])
    examples = list(iter_beir_examples(tmp_path))
    assert [e.id for e in examples] == ["1"]  # query 2 has no judgement
    assert examples[0].gold_doc_ids == ("d1", "d2")
    write_lines(tmp_path / "qrels" / "test.tsv", ["1\td1"])
    with pytest.raises(DatasetError, match=r"test.tsv:1: expected 3"):
        list(iter_beir_examples(tmp_path))


def test_beir_import_scifact(shared_datasets):
    examples = list(iter_beir_examples(shared_datasets / "scifact"))
    assert len(examples) == 300 and all(e.gold_doc_ids for e in examples)


def test_pubmedqa_import_and_corpus(shared_datasets, tmp_path):
    folder = shared_datasets / "pubmedqa"
    test = list(iter_pubmedqa_examples(folder))
    assert len(test) == 500
    labels = [e.label for e in test]
    assert (labels.count("yes"), labels.count("no"), labels.count("maybe")) == (276, 169, 55)
    assert all(e.gold_doc_ids == (e.id,) and e.reference_answers[0] for e in test)
    assert len(list(iter_pubmedqa_examples(folder, split="train"))) == 500
    out = tmp_path / "corpus" / "pubmedqa.jsonl"
    assert write_pubmedqa_corpus(folder, out) == 1000
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len({d["_id"] for d in docs}) == 1000
    first = next(d for d in docs if d["_id"] == test[0].id)
    assert first["text"] and set(first) == {"_id", "title", "text"}
