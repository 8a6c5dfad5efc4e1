"""Judge scores carry their calibration: stored by ``eval calibrate``, recorded in each run,
shown beside judge metrics in ``eval run``, the HTML report and ``eval compare``, and a
warning on gates over an uncalibrated judge. On the FakePipeline (its judge is a fake LLM)."""

import json
import math

import pytest
from eval_fake_pipeline import FakePipeline
from test_compare_cli import cli, run_folder  # noqa: F401  (cli is a fixture)

from fakes import fake_llm
from ragloop.cli import common
from ragloop.evals.calibrate import CalibrationReport, JudgeAgreement
from ragloop.evals.judge_agreement import (
    MIN_KAPPA,
    Agreement,
    find_agreements,
    judge_of,
    save_calibration,
    shipped_calibration_path,
)
from ragloop.evals.runs import load_run


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """The tables get a column more; keep rich from wrapping the cells under test."""
    monkeypatch.setattr(common.console, "width", 240)


def report_for(model, kappas, version="v1"):
    judges = [JudgeAgreement(name, ("a", "b"), n=10, accuracy=0.5, kappa=k)
              for name, k in kappas.items()]
    return CalibrationReport(version, model, judges, [])


def test_agreement_flags_judges_below_the_threshold_or_unknown():
    assert MIN_KAPPA == 0.4
    assert Agreement("correctness", 0.4, 10, "shipped labels").calibrated
    low = Agreement("faithfulness", 0.0, 10, "shipped labels")
    assert not low.calibrated and low.describe().startswith("UNCALIBRATED: kappa 0.00 < 0.4")
    assert not Agreement("relevancy", math.nan, 10, "x").calibrated
    assert "not calibrated" in Agreement("relevancy", None).describe()
    assert judge_of("judge_correctness") == "correctness" and judge_of("token_f1") is None


def test_own_calibration_wins_and_applies_only_to_its_model_and_prompt_version(tmp_path):
    save_calibration(tmp_path, report_for("my-judge", {"correctness": 0.7}),
                     labels_source="/labels.jsonl")
    found = find_agreements(tmp_path, "my-judge", "v1", ("correctness", "relevancy"))
    assert found["correctness"].kappa == 0.7 and found["correctness"].source == "/labels.jsonl"
    assert found["relevancy"].kappa is None  # never calibrated
    assert find_agreements(tmp_path, "my-judge", "v2", ("correctness",))[
        "correctness"].kappa is None
    assert find_agreements(tmp_path, "other-judge", "v1", ("correctness",))[
        "correctness"].kappa is None


def test_ragloop_ships_a_measured_calibration_of_its_default_judge(tmp_path):
    from ragloop.evals.calibrate import load_labels, shipped_labels_path
    from ragloop.models.llamacpp import default_model_path

    entries = json.loads(shipped_calibration_path().read_text())
    assert [e["prompt_version"] for e in entries] == ["v1", "v2"]
    entry = entries[0]
    assert entry["labels"] == "shipped labels"
    held_out = load_labels(shipped_labels_path(), split="test")
    for judge in ("correctness", "faithfulness", "relevancy"):  # measured on the test split
        (found,) = [j for j in entry["judges"] if j["judge"] == judge]
        assert found["n"] + found["errors"] == sum(i.judge == judge for i in held_out)
    found = find_agreements(tmp_path, entry["model"], "v1", ("correctness",))
    assert found["correctness"].source == "shipped labels"
    assert entry["model"] == default_model_path().name  # the judge `eval run` uses by default


def test_eval_run_report_and_compare_carry_the_judges_calibration(cli, project):  # noqa: F811
    class AlwaysPass(FakePipeline):
        """Its fake judge passes everything: kappa 0 against the shipped human labels."""

        def __init__(self, project):
            super().__init__(project)
            self.judge_llm = fake_llm(lambda m, p, s: json.dumps(
                {"verdict": s["properties"]["verdict"]["enum"][0], "reason": "x"}))

    calibrated = cli("calibrate", pipeline=AlwaysPass)
    assert calibrated.exit_code == 0, calibrated.output
    assert "uncalibrated (kappa < 0.4)" in calibrated.text and "saved to" in calibrated.text

    run = cli("run", cli.dataset, "--judge")
    assert run.exit_code == 0, run.output
    assert "judge agreement" in run.text
    assert "UNCALIBRATED: kappa 0.00 < 0.4 (n=10, shipped labels)" in run.text
    folder = run_folder(run.output)
    manifest = load_run(folder).manifest
    assert manifest.judge_calibration["correctness"]["calibrated"] is False
    html = (load_run(folder).path / "report.html").read_text()
    assert '<span class="bad agreement">UNCALIBRATED: kappa 0.00 &lt; 0.4' in html
    assert "Uncalibrated here: correctness, faithfulness, relevancy." in html

    gated = cli("compare", folder, folder, "--fail-under", "judge_correctness=0.1",
                "--fail-under", "hit@1=0.1")
    assert gated.exit_code == 0, gated.output  # the warning does not change the verdict
    assert ("warning: judge_correctness comes from a judge that is not calibrated against "
            "human labels") in gated.text
    assert gated.text.count("warning:") == 1  # hit@1 is no judge metric
    page = next(load_run(folder).path.glob("compare-*.html")).read_text()
    assert 'class="bad warning"' in page


def test_a_calibrated_judge_shows_its_kappa_and_gates_without_warning(cli, project):  # noqa: F811
    save_calibration(project.data_dir, report_for("fake-llm", {
        "correctness": 0.8, "faithfulness": 0.6, "relevancy": 0.5}), labels_source="mine.jsonl")
    run = cli("run", cli.dataset, "--judge")
    assert run.exit_code == 0, run.output
    assert "kappa 0.80 (n=10, mine.jsonl)" in run.text and "UNCALIBRATED" not in run.text
    folder = run_folder(run.output)
    gated = cli("compare", folder, folder, "--fail-under", "judge_correctness=0.1")
    assert gated.exit_code == 0 and "warning:" not in gated.text


def test_a_run_without_judges_records_no_calibration(cli):  # noqa: F811
    run = cli("run", cli.dataset)
    assert load_run(run_folder(run.output)).manifest.judge_calibration is None
    assert "UNCALIBRATED" not in run.text
