"""`ragloop search` on a real project index with the real embedder."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ragloop.cli import app
from ragloop.pipeline import Pipeline
from ragloop.records import Chunk, Document, content_hash

runner = CliRunner()
TEXTS = {"heart": ("Statins lower LDL cholesterol and reduce heart attacks.", "cardio"),
         "rain": ("Monsoon rains flood the river delta every summer.", "weather"),
         "chess": ("The Sicilian defence is a popular chess opening.", "games")}


@pytest.fixture
def indexed(project):
    pipeline = Pipeline(project)
    with pipeline.store.writer() as writer:
        for doc_id, (text, topic) in TEXTS.items():
            doc = Document(id=doc_id, source=f"notes/{doc_id}.txt", title=doc_id, text=text,
                           content_hash=content_hash(text), metadata={"topic": topic})
            chunk = Chunk(id=f"{doc_id}#0", doc_id=doc_id, ordinal=0, text=text,
                          dense_text=text, lexical_text=text)
            writer.replace_document(doc, [chunk], pipeline.embedder.embed_passages([text]))
    pipeline.store.close()
    return project


@pytest.mark.real_model
def test_search_json_explain_and_filters(indexed):
    base = ["-p", str(indexed.root), "search"]
    result = runner.invoke(app, [*base, "cholesterol drugs", "--k", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    first = data["results"][0]
    assert first["doc_id"] == "heart" and first["rank"] == 1 and len(data["results"]) == 2
    assert {"bm25", "dense", "fused"} <= set(first["ranks"])

    result = runner.invoke(app, [*base, "cholesterol drugs", "--explain"])
    assert result.exit_code == 0 and "bm25" in result.output and "heart#0" in result.output

    result = runner.invoke(app, [*base, "cholesterol", "--json", "-f", "topic=games"])
    assert [r["doc_id"] for r in json.loads(result.output)["results"]] == ["chess"]
    result = runner.invoke(app, [*base, "rain", "--json", "-f", "path=notes/r*"])
    assert [r["doc_id"] for r in json.loads(result.output)["results"]] == ["rain"]

    result = runner.invoke(app, [*base, "x", "-f", "nonsense"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output
