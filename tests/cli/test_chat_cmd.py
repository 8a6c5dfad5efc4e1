"""`ragloop chat` piped from stdin on the real model (streamed turns, /sources, /new,
/exit), then `ask --conversation`, `conversations list|show|delete` on what it kept."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ragloop.cli import app
from ragloop.feedback.conversations import ConversationStore
from real_project import ingested_project

runner = CliRunner()


@pytest.mark.real_model
def test_chat_piped_then_continued_listed_and_deleted(tmp_path):
    project = ingested_project(tmp_path / "proj", max_tokens=6,
                               tail='[chat]\ncondense = "carry"\n')
    root = ["-p", str(project.root)]
    piped = ("What causes ocean tides?\n/sources\nWhat else adds to them?\n/new\n"
             "/bogus\nHow does a volcano erupt?\n/exit\nnever asked\n")
    result = runner.invoke(app, [*root, "chat"], input=piped)
    assert result.exit_code == 0, result.output
    assert "Sources" in result.output and "tides.md" in result.output.replace("\n", "")
    assert "(a new conversation)" in result.output and "unknown command /bogus" in result.output

    store = ConversationStore.for_data_dir(project.data_dir)
    first, second = sorted(store.recent(), key=lambda c: c.created)
    assert [t.question for t in first.turns] == ["What causes ocean tides?",
                                                 "What else adds to them?"]
    assert "tides" in first.turns[1].search_query.lower()
    assert [t.question for t in second.turns] == ["How does a volcano erupt?"]

    asked = runner.invoke(app, [*root, "ask", "--conversation", first.id, "And the Sun?"])
    assert asked.exit_code == 0, asked.output
    assert len(store.get(first.id).turns) == 3
    listed = runner.invoke(app, [*root, "conversations", "list"])
    assert first.id in listed.output and "3 turns" in listed.output
    shown = runner.invoke(app, [*root, "conversations", "show", first.id])
    assert "> And the Sun?" in shown.output and "searched:" in shown.output

    assert runner.invoke(app, [*root, "conversations", "delete", first.id]).exit_code == 0
    assert not store.exists(first.id) and store.exists(second.id)
    missing = runner.invoke(app, [*root, "conversations", "delete", first.id])
    assert missing.exit_code == 1 and "no conversation" in missing.output
    store.close()
