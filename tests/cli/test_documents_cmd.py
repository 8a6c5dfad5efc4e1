"""Documents findable by name (issue 15, item 3): `ragloop documents` list / count / show,
`search --json` with source and title, and the index totals after an ingest that changed
nothing. A real project with the default embedder, through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragloop.cli import app

runner = CliRunner()
SPHINX = Path(__file__).parents[1] / "ingest" / "data" / "sphinx"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    root = tmp_path_factory.mktemp("docs-cmd")
    docs = root / "docs"
    docs.mkdir()
    for page in SPHINX.glob("*.html"):
        shutil.copy(page, docs / page.name)
    (docs / "notes.md").write_text("# Field Notes\n\nOtters hold hands while they sleep.\n")
    project = root / "proj"
    assert runner.invoke(app, ["init", str(project)]).exit_code == 0
    first = runner.invoke(app, ["-p", str(project), "ingest", "--json", "-q", str(docs)])
    assert first.exit_code == 0, first.output
    return project, docs, json.loads(first.stdout)


def cli(project, *args):
    result = runner.invoke(app, ["-p", str(project), *args], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_list_count_and_search_by_path_or_title(indexed):
    project, docs, _ = indexed
    rows = [json.loads(line) for line in cli(project, "documents", "list", "--json").splitlines()]
    assert sorted(r["title"] for r in rows) == ["3. Brewing Tea", "Field Notes",
                                                "pot — Teapot control"]
    assert {r["source"] for r in rows} == {str(docs / n) for n in ("brewing.html", "notes.md",
                                                                   "pot.html")}
    assert all(r["chunks"] >= 1 for r in rows)
    matched = cli(project, "documents", "list", "teapot", "--json").splitlines()
    assert [json.loads(m)["title"] for m in matched] == ["pot — Teapot control"]
    assert len(cli(project, "documents", "list", "*.html", "--json").splitlines()) == 2
    count = json.loads(cli(project, "documents", "count", "--json"))
    assert count["documents"] == 3 and count["chunks"] == sum(r["chunks"] for r in rows)
    assert "3 documents" in cli(project, "documents", "count")


def test_list_as_a_table_with_a_limit(indexed):
    project, _, _ = indexed
    table = cli(project, "documents", "list", "--limit", "2")
    assert "3 document(s)" in table and "1 more (--limit 0 shows all)" in table
    assert "Field Notes" in table or "Brewing Tea" in table


def test_show_one_by_path_title_or_id(indexed):
    project, docs, _ = indexed
    by_path = json.loads(cli(project, "documents", "show", str(docs / "brewing.html"),
                             "--json"))
    assert by_path["title"] == "3. Brewing Tea"
    sections = [tuple(c["section"]) for c in by_path["chunk_list"]]
    assert ("3. Brewing Tea", "3.2. Steeping Times") in sections
    by_id = json.loads(cli(project, "documents", "show", by_path["doc_id"], "--json"))
    assert by_id == by_path
    shown = cli(project, "documents", "show", "Brewing")
    assert "Kettle Settings" in shown and str(docs / "brewing.html") in shown
    missing = runner.invoke(app, ["-p", str(project), "documents", "show", "no-such-thing"])
    assert missing.exit_code == 2 and "no indexed document" in missing.output


def test_search_json_names_source_and_title(indexed):
    project, docs, _ = indexed
    found = json.loads(cli(project, "search", "--json", "-k", "3", "steeping times green tea"))
    top = found["results"][0]
    assert top["source"] == str(docs / "brewing.html") and top["title"] == "3. Brewing Tea"


def test_reingest_reports_the_index_totals(indexed):
    project, docs, first = indexed
    again = json.loads(cli(project, "ingest", "--json", "-q", str(docs)))
    assert again["counts"]["chunks"] == 0 and again["counts"]["unchanged"] == 3
    assert again["index"]["documents"] == 3
    assert again["index"]["chunks"] == first["counts"]["chunks"] > 0
    assert "index: 3 documents" in cli(project, "ingest", "-q", str(docs))


def test_eval_run_stops_on_gold_ids_that_match_no_document(indexed, tmp_path):
    project, _, _ = indexed
    golden = tmp_path / "golden.jsonl"
    golden.write_text(json.dumps({"id": "q1", "question": "How long does green tea steep?",
                                  "gold_doc_ids": ["brewing.html", "doc-42"]}) + "\n")
    result = runner.invoke(app, ["-p", str(project), "eval", "run", str(golden)])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "brewing.html, doc-42" in said and "none of the gold ids match" in said


def test_unknown_gold_ids_are_named_per_example():
    from ragloop.evals.datasets import unknown_gold_ids
    from ragloop.records import EvalExample

    examples = [EvalExample(id="a", question="?", gold_doc_ids=("d1", "typo")),
                EvalExample(id="b", question="?", gold_doc_ids=("d1",),
                            gold_chunk_ids=("d1#0", "d1#9"))]
    assert unknown_gold_ids(examples, {"d1"}, {"d1#0"}) == {"a": ["typo"], "b": ["d1#9"]}
    assert unknown_gold_ids(examples, {"d1", "typo"}, None) == {}
