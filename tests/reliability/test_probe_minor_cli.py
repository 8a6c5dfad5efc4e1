"""Probe item 12 of issue 27, the command line's part: on a full disk the CLI printed
tracebacks and ``search`` failed though nothing is written; ESC bytes and markup in file
names reached the terminal raw; ``n_ctx = 1e20`` and an unset ``api_key_env`` passed
``ragloop config``."""

from __future__ import annotations

import errno
import sqlite3
import sys

import pytest
from typer.testing import CliRunner

from fakes import FakeEmbedder
from ragloop.cli import app, main
from ragloop.index import catalog
from ragloop.index.embedded import open_store
from ragloop.records import Chunk, Document, content_hash

runner = CliRunner()


def test_a_full_disk_is_one_line_and_exit_1_not_a_traceback(tmp_path, monkeypatch, capsys):
    from ragloop.pipeline import Pipeline

    def full(*_args, **_kwargs):  # fault injected: the disk refuses the write
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "index"))

    monkeypatch.setattr(Pipeline, "ingest", full)
    (tmp_path / "ragloop.toml").write_text('[project]\nname = "full"\n')
    (tmp_path / "a.md").write_text("Some text.\n")
    monkeypatch.setattr(sys, "argv", ["ragloop", "--project", str(tmp_path), "ingest",
                                      str(tmp_path / "a.md")])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "the disk is full" in err and "free some space" in err and str(tmp_path) in err
    assert "Traceback" not in err


def test_search_reads_the_index_when_the_disk_is_full(tmp_path, monkeypatch):
    emb = FakeEmbedder()
    text = "Tides are caused by the Moon."
    store = open_store(tmp_path / "index")
    writer = store.writer()
    writer.replace_document(
        Document(id="d", source="d.md", title="D", text=text, content_hash=content_hash(text)),
        [Chunk(id="d#0", doc_id="d", ordinal=0, text=text, lexical_text=text, dense_text=text)],
        emb.embed_passages([text]))
    writer.commit()
    store.close()

    def full(_path):  # a WAL reader must create its -shm file: a full disk refuses it
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(catalog, "connect", full)
    reopened = open_store(tmp_path / "index")
    try:
        assert [hit for hit, _ in reopened.lexical_search("moon tides", 3)] == ["d#0"]
    finally:
        reopened.close()


def test_control_characters_and_markup_in_file_names_are_shown_inert(tmp_path):
    name = "\x1b]0;owned\x07\x1b[2J[red]x\u202e.md"
    (tmp_path / "ragloop.toml").write_text('[project]\nname = "names"\n')
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / name).write_text("# Only a heading\n")  # an ingest error naming it
    result = runner.invoke(app, ["--project", str(tmp_path), "ingest", str(tmp_path / "docs")])
    assert result.exit_code == 3, result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "\\x1b]0;owned\\x07\\x1b[2J[red]x\\u202e.md" in result.output


@pytest.mark.parametrize("toml, words", [
    ("[llm]\nn_ctx = 100000000000\n", ["llm.n_ctx"]),  # 1e20 itself overflows int64
    ('[serve]\napi_key_env = "RAGLOOP_PROBE_UNSET_KEY"\n',
     ["RAGLOOP_PROBE_UNSET_KEY", "[serve] api_key_env"]),
    ('[llm]\nbackend = "openai"\nbase_url = "https://llm.example/v1"\n'
     'api_key_env = "RAGLOOP_PROBE_UNSET_KEY"\n', ["RAGLOOP_PROBE_UNSET_KEY", "[llm]"]),
])
def test_config_refuses_an_impossible_context_and_an_unset_key(tmp_path, monkeypatch,
                                                                toml, words):
    monkeypatch.delenv("RAGLOOP_PROBE_UNSET_KEY", raising=False)
    (tmp_path / "ragloop.toml").write_text(toml)
    result = runner.invoke(app, ["--project", str(tmp_path), "config"])
    assert result.exit_code == 1, result.output
    for word in words:
        assert word in result.output
