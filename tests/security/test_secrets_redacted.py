"""Probe item 10 of issue 27: a key with URL-special characters sent as ``?token=``,
``?key=``, ``?api-key=`` or in the path reached the access log verbatim (only ``api_key=``
was masked), and credentials in ``[index] url`` / ``[llm] base_url`` were copied into
``runs/*/config.json`` and served at ``/runs/<run>/config.json``."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

import pytest
from eval_fake_pipeline import FakePipeline as EvalFakePipeline
from fastapi.testclient import TestClient
from serve_fake_pipeline import FakePipeline
from serve_helpers import LOCAL, serve_settings

from ragloop.config import parse_settings
from ragloop.evals.datasets import write_dataset
from ragloop.evals.runner import RunOptions, run_eval
from ragloop.project import Project
from ragloop.records import EvalExample
from ragloop.serve.app import create_app

KEY = "k/&y+z%=?é 9f"  # every character a URL must encode
DB_PASSWORD = "db-p@ss:w0rd"
LLM_PASSWORD = "llm-s3cr3t"


@pytest.mark.parametrize("where", [
    "/v1/ask?token={q}", "/v1/ask?key={q}", "/v1/ask?api-key={q}", "/v1/ask?access_token={q}",
    "/v1/traces/{p}", "/v1/traces/{p}?x=1"])
def test_the_key_in_any_url_encoding_is_masked_in_the_access_log(
        tmp_path, monkeypatch, caplog, where):
    monkeypatch.setenv("RAGLOOP_PROBE_KEY", KEY)
    app = create_app(FakePipeline(), serve_settings(api_key_env="RAGLOOP_PROBE_KEY"),
                     data_dir=tmp_path)
    path = where.format(q=quote(KEY, safe=""), p=quote(KEY))
    with TestClient(app, base_url=LOCAL), caplog.at_level(logging.INFO, "uvicorn.access"):
        # the line uvicorn's access logger writes for the request
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 401)
    logged = caplog.records[-1].getMessage()
    assert "[redacted]" in logged
    for form in (KEY, quote(KEY, safe=""), quote(KEY), quote(KEY, safe="").lower()):
        assert form not in logged, logged


def run_project(tmp_path) -> Project:
    settings = parse_settings({
        "index": {"backend": "postgres", "url": f"postgresql://rag:{DB_PASSWORD}@db:5432/rag"},
        "llm": {"backend": "openai", "base_url": f"https://me:{LLM_PASSWORD}@llm.example/v1",
                "api_key_env": ""}})
    return Project(root=tmp_path / "proj", settings=settings)


def test_a_run_config_holds_no_password_of_a_url_on_disk_nor_served(tmp_path):
    project = run_project(tmp_path)
    dataset = tmp_path / "gold.jsonl"
    write_dataset(dataset, [EvalExample(id="fr", question="What is the capital of France?",
                                        reference_answers=("Paris",), gold_doc_ids=("d1",))])
    result = run_eval(EvalFakePipeline(project), dataset, options=RunOptions(report=False))
    written = (result.run_dir / "config.json").read_text()
    assert DB_PASSWORD not in written and LLM_PASSWORD not in written
    assert "db:5432/rag" in written and "llm.example/v1" in written  # the rest is kept

    # a run written before masking still holds the password on disk: served masked
    (result.run_dir / "config.json").write_text(json.dumps(
        {"index": {"url": f"postgresql://rag:{DB_PASSWORD}@db/rag"}}))
    app = create_app(FakePipeline(), serve_settings(), data_dir=project.data_dir)
    with TestClient(app, base_url=LOCAL) as client:
        served = client.get(f"/runs/{result.run_dir.name}/config.json")
    assert served.status_code == 200
    assert DB_PASSWORD not in served.text and "@db/rag" in served.text
