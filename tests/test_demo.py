"""The main job, end to end on the real embedded models."""

import json

import pytest
from typer.testing import CliRunner

from ragloop.cli import app
from ragloop.demo import DEMO_QUESTIONS, demo_golden_path, resolve_golden
from ragloop.ingest.loaders.base import file_doc_id


def test_golden_set_gold_files_exist_in_the_corpus_and_resolve_to_ids(tmp_path):
    from ragloop.demo import demo_corpus_dir

    corpus = demo_corpus_dir()
    out = resolve_golden(demo_golden_path(), corpus, tmp_path / "g.jsonl")
    for line in out.read_text().splitlines():
        item = json.loads(line)
        files = item["metadata"]["gold_files"]
        assert files and all((corpus / name).is_file() for name in files)
        assert item["gold_doc_ids"] == [file_doc_id(corpus / name) for name in files]


def test_demo_prints_answers_quoting_brackets_verbatim(capsys):
    """An extracted answer quotes the docs ("the `[llm]` section"); rich must not take the
    brackets for markup and drop them."""
    from ragloop.cli.demo_cmds import _print_answer
    from ragloop.records import Answer, Citation

    text = "Set `backend = \"openai\"`, `base_url` and `model` in the `[llm]` section [1]."
    _print_answer(Answer(question="How do I use [vLLM]?", text=text, strategy="extract",
                         citations=(Citation(marker=1, chunk_id="c", doc_id="d",
                                             source="docs/models.md", title="[Backends]"),)))
    out = " ".join(capsys.readouterr().out.split())
    assert "`[llm]` section [1]" in out and "[1] models.md — [Backends]" in out
    assert "How do I use [vLLM]?" in out


@pytest.mark.real_model
def test_demo_ingests_answers_with_named_sources_evaluates_and_writes_a_report(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--no-judge"])
    assert result.exit_code == 0, result.output
    for question in DEMO_QUESTIONS:
        assert question in result.output
    assert "ingested 7 files" in result.output
    # citations name their source files, not opaque ids
    assert ".md" in result.output.split("sources:")[1]
    runs = list((out / ".ragloop" / "runs").iterdir())
    assert len(runs) == 1
    report = runs[0] / "report.html"
    assert "report:" in result.output and report.is_file()
    html = report.read_text()
    assert "<table" in html and "<svg" in html and "hit@5" in html
    # it says what ran and lists every example, to read one by one
    assert '<p class="ran">' in html and 'id="ex-filter"' in html
    assert html.count('<details class="example"') == 12
    aggregates = json.loads((runs[0] / "aggregates.json").read_text())
    assert aggregates["n_examples"] == 12 and aggregates["n_errors"] == 0
    # retrieval on the demo's own docs must find the gold file in the top 5
    assert aggregates["metrics"]["hit@5"]["mean"] >= 0.8
