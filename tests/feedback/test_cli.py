"""`ragloop traces`, `ragloop traces show`, `ragloop feedback export|to-golden`."""

from __future__ import annotations

import json

from feedback_helpers import Recorder
from typer.testing import CliRunner

from ragloop.cli import app
from ragloop.feedback.store import TraceStore

runner = CliRunner()


def _seed(project) -> list[str]:
    store = TraceStore.for_data_dir(project.data_dir)
    recorder = Recorder(store)
    good = recorder.trace("Why tides?", "The Moon [1].")
    bad = recorder.trace("Why tides?", "Wind.")
    recorder.feedback(good, rating="up")
    recorder.feedback(bad, rating="down")
    recorder.feedback(bad, corrected="The Moon's gravity [1].")
    store.close()
    return [good, bad]


def test_traces_list_and_show(project):
    good, bad = _seed(project)
    listed = runner.invoke(app, ["-p", str(project.root), "traces", "--limit", "5"])
    assert listed.exit_code == 0, listed.output
    assert good[:12] in listed.output and bad[:12] in listed.output
    assert "corrected" in listed.output
    shown = runner.invoke(app, ["-p", str(project.root), "traces", "show", bad[:10]])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["id"] == bad and data["corrected_answer"] == "The Moon's gravity [1]."
    assert data["spans"][1]["attributes"]["gen_ai.usage.output_tokens"] == 5
    missing = runner.invoke(app, ["-p", str(project.root), "traces", "show", "zzz"])
    assert missing.exit_code == 2 and "no trace" in missing.output


def test_feedback_export_and_to_golden(project, tmp_path):
    _seed(project)
    out = tmp_path / "out" / "dpo.jsonl"
    result = runner.invoke(app, ["-p", str(project.root), "feedback", "export", "--format",
                                 "dpo", str(out), "--test-fraction", "0", "--seed", "1"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in (tmp_path / "out" / "dpo.train.jsonl").read_text().splitlines()]
    chosen = sorted(r["chosen"][0]["content"] for r in rows)
    assert chosen == ["The Moon [1].", "The Moon's gravity [1]."]
    bad_format = runner.invoke(app, ["-p", str(project.root), "feedback", "export", "--format",
                                     "ppo", str(out)])
    assert bad_format.exit_code == 2 and "unknown format" in bad_format.output
    golden = tmp_path / "golden.jsonl"
    result = runner.invoke(app, ["-p", str(project.root), "feedback", "to-golden", str(golden)])
    assert result.exit_code == 0, result.output
    example = json.loads(golden.read_text())
    assert example["reference_answers"] == ["The Moon's gravity [1]."]
    assert example["question"] == "Why tides?"
