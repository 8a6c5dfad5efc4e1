"""Probe 6 of issue 11, replayed with the CLI on a real project (MiniLM embedder, embedded
store): `ragloop search many0003x` must find the only document containing the term. With a
single BM25 hit the z-score spread is 0; fusion used to give that hit the score of the
candidates that never matched, and dense noise decided the order."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ragloop.cli import app

runner = CliRunner()


@pytest.mark.real_model
def test_search_finds_the_only_document_with_a_rare_term(tmp_path):
    project = tmp_path / "proj"
    assert runner.invoke(app, ["init", str(project)]).exit_code == 0
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(1, 61):
        (docs / f"item{i:04d}.md").write_text(
            f"# Inventory record {i}\n\nWarehouse entry many{i:04d}x: a crate of assorted "
            f"parts, shelf {i % 7}, counted in the spring inventory.\n", encoding="utf-8")
    ingested = runner.invoke(app, ["-p", str(project), "ingest", str(docs)])
    assert ingested.exit_code == 0, ingested.output
    for term, doc in (("many0003x", "item0003.md"), ("many0047x", "item0047.md")):
        found = runner.invoke(app, ["-p", str(project), "search", term, "--json", "-k", "3"])
        assert found.exit_code == 0, found.output
        results = json.loads(found.output)["results"]
        assert term in results[0]["text"], [r["text"][:60] for r in results]
        assert results[0]["ranks"]["bm25"] == 1
        assert doc in json.dumps(results[0]) or results[0]["doc_id"]


def test_search_refuses_a_negative_k(tmp_path):
    result = runner.invoke(app, ["-p", str(tmp_path), "search", "x", "-k", "-5"])
    assert result.exit_code == 2
    assert "greater than or equal to 0" in result.output
