"""Probe 7 of issue 11 (config side) replayed with the CLI: `ragloop config` catches what
cannot work (unknown strategy, unknown retriever in weights, overlap ≥ chunk size, non-finite
numbers, a missing model file), `ragloop serve` refuses to start on it, and error messages
keep their "[section]" text (rich markup used to swallow it)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ragloop.cli import app

runner = CliRunner()


@pytest.mark.parametrize("toml, words", [
    ('[answer]\nstrategy = "bogus"\n',
     ["unknown answer strategy 'bogus' in [answer] strategy", "ragloop.toml"]),
    ('[answer]\nslow_strategy = "bogus"\n',
     ["unknown answer strategy 'bogus' in [answer] slow_strategy"]),
    ('[ingest]\nchunker = "bogus"\n', ["unknown chunker 'bogus' in [ingest] chunker",
                                         "structure"]),
    ('[retrieve]\nretrievers = ["bm25", "bogus"]\n',
     ["unknown retriever 'bogus' in [retrieve] retrievers", "questions_dense"]),
    ('[executor]\nbackend = "bogus"\n', ["unknown executor 'bogus'", "ray"]),
    ('[run]\nworkers = 2\n', ["[run] table is now [executor]"]),
    ('[index]\nbackend = "bogus"\n', ["unknown index backend 'bogus'"]),
    ("[retrieve]\nweights = {bm25s = 5.0}\n", ["bm25s", "retrieve.weights"]),
    ("[ingest]\nchunk_tokens = 100\noverlap_tokens = 150\n",
     ["overlap_tokens (150) must be smaller than chunk_tokens (100)"]),
    ("[ingest]\nchunk_tokens = 100\noverlap_tokens = 100\n", ["overlap_tokens"]),
    ("[ingest]\nmax_file_mb = inf\n", ["ingest.max_file_mb", "finite"]),
    ("[serve]\nmax_body_mb = nan\n", ["serve.max_body_mb"]),
    ('[llm]\nmodel_path = "/no/such/model.gguf"\n',
     ["[llm] model_path", "/no/such/model.gguf"]),
    ('[embedder]\nmodel_path = "/no/such/model.onnx"\n', ["[embedder] model_path"]),
    ('[retrieve]\nrerank = "cross-encoder"\ncross_encoder_path = "/no/such/dir"\n',
     ["[retrieve] cross_encoder_path"]),
])
def test_config_and_serve_refuse_what_cannot_work(tmp_path, toml, words):
    (tmp_path / "ragloop.toml").write_text(toml, encoding="utf-8")
    for command in (["config"], ["serve", "--port", "1"]):
        result = runner.invoke(app, ["-p", str(tmp_path), *command])
        assert result.exit_code == 1, (command, result.output)
        for word in words:
            assert word in " ".join(result.output.split()), (command, result.output)


def test_serve_error_keeps_the_section_name(tmp_path, monkeypatch):
    monkeypatch.delenv("RAGLOOP_PROBE_KEY", raising=False)
    (tmp_path / "ragloop.toml").write_text('[serve]\napi_key_env = "RAGLOOP_PROBE_KEY"\n')
    result = runner.invoke(app, ["-p", str(tmp_path), "serve"])
    assert result.exit_code == 1
    assert "[serve] api_key_env names 'RAGLOOP_PROBE_KEY'" in " ".join(result.output.split())


def test_a_valid_config_still_passes(tmp_path):
    (tmp_path / "ragloop.toml").write_text(
        '[answer]\nstrategy = "cot"\n[retrieve]\nweights = {bm25 = 0.3, dense = 0.7}\n'
        "[ingest]\nchunk_tokens = 100\noverlap_tokens = 99\n", encoding="utf-8")
    result = runner.invoke(app, ["-p", str(tmp_path), "config"])
    assert result.exit_code == 0, result.output


def test_ingest_errors_keep_the_section_name(tmp_path):
    (tmp_path / "ragloop.toml").write_text("[ingest]\nmax_file_mb = 0.001\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "big.md").write_text("# Big\n\n" + "word " * 1000, encoding="utf-8")
    result = runner.invoke(app, ["-p", str(tmp_path), "ingest", str(docs)])
    assert result.exit_code == 3, result.output
    assert "[ingest] max_file_mb" in " ".join(result.output.split())
