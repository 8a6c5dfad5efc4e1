import json

import pytest
from eval_fake_pipeline import FakePipeline

from ragloop.evals import runs
from ragloop.evals.datasets import write_dataset
from ragloop.evals.fingerprint import file_sha256
from ragloop.evals.runner import RunOptions
from ragloop.evals.runner import run_eval as _run_eval
from ragloop.records import EvalExample, EvalRecord

EXAMPLES = [
    EvalExample(id="fr", question="What is the capital of France?",
                reference_answers=("Paris is the capital of France",), gold_doc_ids=("d1",)),
    EvalExample(id="de", question="What is the capital of Germany?",
                reference_answers=("Berlin",), gold_chunk_ids=("c2",)),
    EvalExample(id="it", question="Which city lies on the Tiber?", gold_doc_ids=("d4",)),
    EvalExample(id="es", question="Is Madrid the capital of Spain?", label="yes",
                gold_doc_ids=("d3",)),
    EvalExample(id="no", question="Is Rome the capital of Spain?", label="no",
                gold_doc_ids=("d4",)),
]


@pytest.fixture
def dataset(tmp_path):
    path = tmp_path / "gold.jsonl"
    write_dataset(path, EXAMPLES)
    return path


def run_eval(pipeline, dataset=None, *, options=RunOptions(), **kwargs):
    """The runner without the HTML report (tested on its own in test_report.py)."""
    from dataclasses import replace

    return _run_eval(pipeline, dataset, options=replace(options, report=False), **kwargs)


def by_id(run_dir):
    return {r.id: r for r in runs.read_records(run_dir)}


def test_run_writes_folder_with_step_scores(project, dataset):
    pipeline = FakePipeline(project)
    seen = []
    result = run_eval(pipeline, dataset, options=RunOptions(workers=2),
                      progress=lambda done, total: seen.append((done, total)))
    run_dir = result.run_dir
    assert run_dir.parent == project.data_dir / "runs"
    for name in ("run.json", "config.json", "examples.jsonl", "aggregates.json"):
        assert (run_dir / name).is_file()
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["config_hash"]) == 64
    assert manifest["model"]["model"] == "fake-llm"
    assert seen[-1] == (5, 5)
    records = by_id(run_dir)
    fr = records["fr"].scores
    assert fr["hit@1"] == 1.0 and fr["context_hit"] == 1.0
    assert fr["exact_match"] == 1.0 and fr["citation_precision"] == 1.0
    assert records["de"].scores["hit@1"] == 1.0  # chunk-level gold
    assert records["fr"].retrieved[0].doc_id == "d1"
    assert records["fr"].context[0].text.startswith("Paris")
    # the label instruction went to the pipeline, retrieval used the bare question
    assert records["es"].asked.endswith("Answer with one word first: no, yes.")
    assert records["es"].predicted_label is None  # the fake never says yes/no
    agg = result.aggregates
    assert agg["n_examples"] == 5 and agg["n_errors"] == 0
    hit = agg["metrics"]["hit@1"]
    assert hit["low"] <= hit["mean"] <= hit["high"] and hit["n"] == 5
    assert agg["labels"]["accuracy"] == 0.0
    assert agg["labels"]["prediction_distribution"] == {"none": 2}
    assert "judge_correctness" not in agg["metrics"]  # judges off by default


def test_limit_keeps_the_label_set_of_the_whole_dataset(project, dataset):
    pipeline = FakePipeline(project)
    result = run_eval(pipeline, dataset, options=RunOptions(limit=4))
    asked = by_id(result.run_dir)["es"].asked
    assert asked.endswith("no, yes.")  # "no" only appears in the 5th example


def test_label_accuracy_when_the_answer_names_a_label(project, dataset):
    result = run_eval(FakePipeline(project, answer_prefix="Yes. "), dataset)
    labels = result.aggregates["labels"]
    assert labels["accuracy"] == 0.5  # yes right, no wrong
    assert labels["per_label"]["yes"]["recall"] == 1.0


def test_failed_example_is_recorded_and_resume_reruns_only_it(project, dataset):
    broken = FakePipeline(project, broken_ids=("Germany",))
    first = run_eval(broken, dataset, options=RunOptions(workers=3))
    assert first.aggregates["n_errors"] == 1 and first.errors[0].startswith("de: RuntimeError")
    assert by_id(first.run_dir)["de"].error
    fixed = FakePipeline(project)
    second = run_eval(fixed, resume=first.run_dir)
    assert second.run_dir == first.run_dir and second.skipped == 4
    assert fixed.asked == ["What is the capital of Germany?"]
    assert second.aggregates["n_errors"] == 0 and second.aggregates["n_examples"] == 5


def test_interrupted_run_resumes_from_written_records(project, dataset):
    first = run_eval(FakePipeline(project), dataset, options=RunOptions(limit=2))
    # simulate an interruption: the dataset grew to the full 5, plus a torn last line
    manifest = json.loads((first.run_dir / "run.json").read_text())
    manifest["options"]["limit"] = None
    (first.run_dir / "run.json").write_text(json.dumps(manifest))
    with (first.run_dir / "examples.jsonl").open("a") as out:
        out.write('{"id": "torn')
    again = FakePipeline(project)
    result = run_eval(again, resume=first.run_dir)
    assert len(again.asked) == 3 and result.skipped == 2
    assert result.aggregates["n_examples"] == 5


def test_resume_refuses_a_changed_configuration(project, dataset):
    first = run_eval(FakePipeline(project), dataset, options=RunOptions(limit=1))
    config = project.config_path.read_text().replace("k = 10", "k = 7")
    project.config_path.write_text(config)
    from ragloop.project import Project

    changed = FakePipeline(Project.load(project.root))
    with pytest.raises(runs.RunFolderError, match="configuration changed"):
        run_eval(changed, resume=first.run_dir)


def test_judges_are_scored_with_version_and_reason(project, dataset):
    pipeline = FakePipeline(project, context_chunks=1)
    result = run_eval(pipeline, dataset, options=RunOptions(judge=True))
    records = by_id(result.run_dir)
    de = records["de"]
    assert de.scores["judge_correctness"] == 0.0  # the fake judge fails Berlin
    assert de.judges["correctness"]["prompt_version"] == "v1"
    assert de.judges["correctness"]["reason"] == "fake judge"
    assert records["fr"].scores["judge_faithfulness"] == 1.0
    assert "judge_correctness" not in records["it"].scores  # no reference
    assert result.aggregates["metrics"]["judge_relevancy"]["n"] == 5


def test_model_file_hash_is_cached_by_path_mtime_size(tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"weights")
    cache = tmp_path / "hashes.json"
    real = file_sha256(model, cache)
    assert len(real) == 64
    entries = json.loads(cache.read_text())
    key = next(iter(entries))
    cache.write_text(json.dumps({key: "from-cache"}))
    assert file_sha256(model, cache) == "from-cache"  # not recomputed
    model.write_bytes(b"new weights!")
    assert file_sha256(model, cache) != "from-cache"  # size/mtime changed: recomputed


OLD_RECORD = {  # an examples.jsonl line as runs wrote it before EvalRecord (a plain dict)
    "id": "q1", "question": "Is Paris in France?", "tags": ["geo"], "label": "yes",
    "labels": ["no", "yes"], "reference_answers": ["yes"], "gold_doc_ids": ["d1"],
    "gold_chunk_ids": [], "error": None,
    "asked": "Is Paris in France? Answer with one word first: no, yes.",
    "retrieved": [{"chunk_id": "c1", "doc_id": "d1", "score": 2.5, "title": "Paris"}],
    "context": [{"chunk_id": "c1", "doc_id": "d1", "text": "Paris is in France."}],
    "answer": "Yes [1].", "refused": False, "strategy": "direct",
    "citations": [{"marker": 1, "chunk_id": "c1", "doc_id": "d1"}],
    "predicted_label": "yes", "judges": {}, "scores": {"hit@1": 1.0, "label_accuracy": 1.0},
    "latency": {"retrieve_s": 0.1, "answer_s": 0.5, "judge_s": 0.0, "total_s": 0.6},
    "tokens": {"prompt": 50, "completion": 3, "calls": 1, "cached_calls": 0}}


def test_a_run_folder_of_plain_dict_records_still_loads(tmp_path):
    from ragloop.evals.report import write_run_report

    run_dir = tmp_path / "old-run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"dataset": "gold.jsonl", "options": {}}))
    failed = {"id": "q2", "question": "Broken?", "tags": [], "label": None, "labels": [],
              "reference_answers": [], "gold_doc_ids": [], "gold_chunk_ids": [],
              "error": "RuntimeError: boom", "traceback": "...", "asked": "Broken?"}
    (run_dir / "examples.jsonl").write_text(
        json.dumps(OLD_RECORD) + "\n" + json.dumps(failed) + "\n")
    run = runs.load_run(run_dir)
    ok, bad = sorted(run.records, key=lambda r: r.id)
    assert ok.retrieved[0].doc_id == "d1" and ok.citations[0].marker == 1
    assert ok.latency.total_s == 0.6 and ok.tokens.prompt == 50 and ok.instruction == ""
    assert bad.error == "RuntimeError: boom" and not bad.ok
    assert run.aggregates["n_examples"] == 2 and run.aggregates["n_errors"] == 1
    assert run.aggregates["labels"]["accuracy"] == 1.0
    assert "Is Paris in France?" in write_run_report(run_dir).read_text()


def test_records_are_written_typed_and_read_back_equal(project, dataset):
    result = run_eval(FakePipeline(project), dataset)
    line = (result.run_dir / "examples.jsonl").read_text().splitlines()[0]
    record = runs.read_records(result.run_dir)[0]
    assert json.loads(line)["id"] == record.id
    assert EvalRecord.model_validate_json(line) == record


def test_the_label_instruction_goes_apart_from_the_question(project, dataset):
    pipeline = FakePipeline(project)
    result = run_eval(pipeline, dataset)
    assert sorted(pipeline.asked) == sorted(e.question for e in EXAMPLES)  # bare questions
    instruction = "Answer with one word first: no, yes."
    assert pipeline.instructions["Is Madrid the capital of Spain?"] == instruction
    assert pipeline.instructions["What is the capital of France?"] == ""  # no label
    record = by_id(result.run_dir)["es"]
    assert record.instruction == instruction and record.question == EXAMPLES[3].question
