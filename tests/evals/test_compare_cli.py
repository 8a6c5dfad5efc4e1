"""``ragloop eval run/compare/report/calibrate/import`` end to end on the FakePipeline."""

import json

import pytest
from eval_fake_pipeline import FakePipeline
from test_runner import EXAMPLES
from typer.testing import CliRunner

from fakes import fake_llm
from ragloop.cli import app, eval_cmds
from ragloop.cli.common import EXIT_GATE, EXIT_PARTIAL, state
from ragloop.evals import compare as cmp
from ragloop.evals.datasets import write_dataset
from ragloop.evals.runs import load_run

runner = CliRunner()


class RegressedPipeline(FakePipeline):
    """Retrieval ranks worst first: a planted regression."""

    def retrieve(self, query, k=None, filters=None):
        return list(reversed(super().retrieve(query, 10)))[: k or 10]


@pytest.fixture
def cli(project, tmp_path, monkeypatch):
    dataset = tmp_path / "gold.jsonl"
    write_dataset(dataset, EXAMPLES)
    kind = {"pipeline": FakePipeline}
    monkeypatch.setattr(eval_cmds, "_pipeline",
                        lambda ctx: kind["pipeline"](state(ctx).project))

    def invoke(*args, pipeline=FakePipeline):
        kind["pipeline"] = pipeline
        result = runner.invoke(app, ["-p", str(project.root), "eval", *map(str, args)])
        result.text = " ".join(result.output.split())  # rich wraps long lines
        return result

    invoke.dataset = dataset
    return invoke


def run_folder(output: str):
    line = next(x for x in output.splitlines() if x.startswith("run folder: "))
    return line.removeprefix("run folder: ")


def test_run_compare_gate(cli):
    first = cli("run", cli.dataset, "--workers", "2")
    assert first.exit_code == 0, first.output
    assert "hit@1" in first.text
    same = cli("run", cli.dataset)
    regressed = cli("run", cli.dataset, pipeline=RegressedPipeline)
    a, b, c = run_folder(first.output), run_folder(same.output), run_folder(regressed.output)

    ok = cli("compare", a, b, "--max-regression", "hit@1=0.0", "--fail-under", "hit@5=0.5")
    assert ok.exit_code == 0, ok.output
    assert "0 flipped" not in ok.text and "gate max-regression hit@1: pass" in ok.text

    bad = cli("compare", a, c, "--max-regression", "hit@1=0.05")
    assert bad.exit_code == EXIT_GATE, bad.output
    assert "flipped" in bad.text and "FAIL" in bad.text
    page = (load_run(c).path / f"compare-{load_run(a).name}.html").read_text()
    assert "Flipped examples" in page and "<svg" in page

    missing = cli("compare", a, b, "--fail-under", "no_such_metric=0.1")
    assert missing.exit_code == EXIT_GATE  # a gate on an unscored metric never passes silently
    usage = cli("compare", a, b, "--fail-under", "hit@1")
    assert usage.exit_code == 2 and "METRIC=NUMBER" in usage.text

    assert cli("report", "latest").exit_code == 0


def test_run_with_failed_examples_exits_partial(cli):
    class Broken(FakePipeline):
        def __init__(self, project):
            super().__init__(project, broken_ids=("Germany",))

    result = cli("run", cli.dataset, pipeline=Broken)
    assert result.exit_code == EXIT_PARTIAL and "de: RuntimeError" in result.text


def test_malformed_dataset_is_rejected_naming_the_line(cli, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "ok?"}\n{"id": "b", "question": }\n')
    result = cli("run", bad)
    assert result.exit_code == 1 and "bad.jsonl:2: not valid JSON" in result.text


def test_compare_deltas_and_flips_by_hand(project, tmp_path):
    dataset = tmp_path / "gold.jsonl"
    write_dataset(dataset, EXAMPLES)
    from test_runner import run_eval

    a = load_run(run_eval(FakePipeline(project), dataset).run_dir)
    b = load_run(run_eval(RegressedPipeline(project), dataset).run_dir)
    comparison = cmp.compare_runs(a, b)
    hit1 = next(d for d in comparison.deltas if d.metric == "hit@1")
    # A misses only "no" (Madrid outranks Rome for "capital of Spain"); B misses all five
    assert (hit1.a, hit1.b, hit1.n) == (0.8, 0.0, 5) and hit1.delta == pytest.approx(-0.8)
    assert {f.id for f in comparison.flips if f.metric == "hit@1"} == {"fr", "de", "it", "es"}
    same = cmp.compare_runs(a, a)
    assert all(d.delta == 0 for d in same.deltas) and not same.flips


def test_repeats_gate_on_the_pass_rate(project, tmp_path):
    dataset = tmp_path / "gold.jsonl"
    write_dataset(dataset, EXAMPLES)
    from test_runner import run_eval

    a = load_run(run_eval(FakePipeline(project), dataset).run_dir)

    def drifting_judge(messages, params, schema):
        """Passes everything on odd seeds, fails everything on even ones."""
        passing, failing = schema["properties"]["verdict"]["enum"]
        return json.dumps({"verdict": passing if params.seed % 2 else failing, "reason": "r"})

    judge = fake_llm(drifting_judge)
    gates = [cmp.parse_gate("fail-under", "judge_relevancy=0.9")]
    result = cmp.gate(a, a, cmp.compare_runs(a, a), gates, judge, repeats=4, min_pass_rate=0.5)
    assert result.pass_rate == 0.5 and result.passed and len(result.repeat_gates) == 4
    seeds = {call[1].seed for call in judge.backend.calls}
    temps = {call[1].temperature for call in judge.backend.calls}
    assert seeds == {1, 2, 3, 4} and temps == {0.7}
    strict = cmp.gate(a, a, cmp.compare_runs(a, a), gates, judge, repeats=4, min_pass_rate=0.75)
    assert not strict.passed


def test_import_commands(cli, tmp_path, shared_datasets):
    out, corpus = tmp_path / "pqa.jsonl", tmp_path / "corpus.jsonl"
    result = cli("import", "pubmedqa", shared_datasets / "pubmedqa", out, "--corpus", corpus)
    assert result.exit_code == 0, result.output
    assert "wrote 500 examples" in result.text and "wrote 1000 documents" in result.text
    assert cli("import", "nope", tmp_path, out).exit_code == 2


def test_calibrate_command_prints_kappa(cli, monkeypatch):
    class AlwaysPass(FakePipeline):
        def __init__(self, project):
            super().__init__(project)
            self.judge_llm = fake_llm(lambda m, p, s: json.dumps(
                {"verdict": s["properties"]["verdict"]["enum"][0], "reason": "x"}))

    result = cli("calibrate", pipeline=AlwaysPass)
    assert result.exit_code == 0, result.output
    assert "correctness" in result.text and "kappa=0.000" in result.text
    assert "accuracy=0.500" in result.text
    assert "50 labelled items (test split)" in result.text  # held out by default
    assert "faithfulness: n=30" in result.text
    train = cli("calibrate", "--split", "train", pipeline=AlwaysPass)
    assert train.exit_code == 0, train.output
    assert "faithfulness: n=40" in train.text and "correctness" not in train.text
    assert cli("calibrate", "--split", "dev", pipeline=AlwaysPass).exit_code == 2
