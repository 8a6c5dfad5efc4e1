"""The OpenAI-compatible backend against a real server: llama-cpp-python's own server,
started on 127.0.0.1 with the default model."""

import json
import socket
import subprocess
import sys
import threading
import time

import httpx
import jsonschema
import pytest
from typer.testing import CliRunner

from ragloop.cli import app
from ragloop.errors import ModelError, ModelTimeoutError, ModelUnreachableError
from ragloop.models.llamacpp import default_model_path
from ragloop.models.llm import LLMClient
from ragloop.models.openai_compat import OpenAICompatBackend

pytestmark = pytest.mark.real_model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    port = free_port()
    # a file, not a pipe: llama.cpp logs enough to fill a pipe and stall the server
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_model_path()),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
         "--model_alias", "smollm2"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("llama_cpp.server did not start within 60 s")
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


def test_completion_over_http(server_url):
    llm = LLMClient(OpenAICompatBackend(server_url, "smollm2"))
    c = llm.complete([{"role": "user", "content": "Say hello."}], max_tokens=16)
    assert c.text.strip()
    assert c.prompt_tokens > 0 and 0 < c.completion_tokens <= 16
    assert c.latency_s > 0


def test_schema_over_http(server_url):
    llm = LLMClient(OpenAICompatBackend(server_url, "smollm2"))
    # maxLength bounds the grammar, so the tiny model cannot ramble past max_tokens
    schema = {"type": "object", "properties": {"answer": {"type": "string", "maxLength": 40}},
              "required": ["answer"]}
    c = llm.complete([{"role": "user", "content": "Reply in JSON with an answer field."}],
                     schema=schema, max_tokens=60)
    jsonschema.validate(c.parsed, schema)


SCHEMA = {"type": "object", "properties": {"answer": {"type": "string", "maxLength": 40}},
          "required": ["answer"]}


def counted(backend: OpenAICompatBackend) -> list[int]:
    """The HTTP status of every answer the backend gets from now on."""
    statuses: list[int] = []
    backend._http.event_hooks["response"].append(lambda r: statuses.append(r.status_code))
    return statuses


def test_auto_json_mode_learns_the_servers_form_on_complete_in_one_rejected_request(server_url):
    backend = OpenAICompatBackend(server_url, "smollm2")
    statuses = counted(backend)
    llm = LLMClient(backend)
    msgs = [{"role": "user", "content": "Reply in JSON with an answer field."}]
    jsonschema.validate(llm.complete(msgs, schema=SCHEMA, max_tokens=60).parsed, SCHEMA)
    # llama-cpp-python's server answers json_schema with a 500: tried once, not retried
    assert statuses == [500, 200]
    assert backend.schema_mode == "json_object"
    pieces = list(llm.stream(msgs, schema=SCHEMA, max_tokens=60))
    jsonschema.validate(json.loads("".join(pieces)), SCHEMA)
    assert statuses == [500, 200, 200]


def test_auto_json_mode_learns_the_servers_form_on_the_stream_path(server_url):
    backend = OpenAICompatBackend(server_url, "smollm2")
    statuses = counted(backend)
    llm = LLMClient(backend)
    msgs = [{"role": "user", "content": "Reply in JSON with an answer field."}]
    pieces = list(llm.stream(msgs, schema=SCHEMA, max_tokens=60))
    assert len(pieces) > 1
    jsonschema.validate(json.loads("".join(pieces)), SCHEMA)
    assert statuses == [500, 200] and backend.schema_mode == "json_object"
    jsonschema.validate(llm.complete(msgs, schema=SCHEMA, max_tokens=60).parsed, SCHEMA)
    assert statuses == [500, 200, 200]


def test_a_form_the_server_rejects_when_set_by_hand_is_a_clear_error(server_url):
    backend = OpenAICompatBackend(server_url, "smollm2", json_mode="json_schema")
    statuses = counted(backend)
    with pytest.raises(ModelError, match='rejects the JSON schema.*json_mode = "auto"'):
        LLMClient(backend).complete([{"role": "user", "content": "hi"}], schema=SCHEMA)
    assert statuses == [500]


def test_ask_streamed_and_json_through_the_server_with_default_json_mode(server_url, tmp_path):
    """`ragloop ask` (a streamed JSON answer), `ask --json` and a strategy that calls
    `complete` with a schema, each a fresh process-like pipeline with json_mode unset."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "ragloop.toml").write_text(
        f'[llm]\nbackend = "openai"\nbase_url = "{server_url}"\nmodel = "smollm2"\n'
        '[answer]\nmax_tokens = 80\n', encoding="utf-8")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.md").write_text("# Tides\n\nOcean tides are caused mainly by the gravity "
                                   "of the Moon pulling on the oceans.\n", encoding="utf-8")
    run = CliRunner().invoke
    ingested = run(app, ["-p", str(root), "ingest", str(docs), "--no-enrich", "-q"])
    assert ingested.exit_code == 0, ingested.output
    question = "What causes ocean tides?"
    asked = run(app, ["-p", str(root), "--no-cache", "ask", question])
    assert asked.exit_code == 0, asked.output
    assert "HTTP" not in asked.output and "tides.md" in asked.output
    for extra in ([], ["--strategy", "cot"]):
        result = run(app, ["-p", str(root), "--no-cache", "ask", question, "--json", *extra])
        assert result.exit_code == 0, result.output
        answer = json.loads(result.output)
        assert answer["text"].strip()
        assert "schema_error" not in answer["metadata"]


def test_streaming_over_http(server_url):
    llm = LLMClient(OpenAICompatBackend(server_url, "smollm2"))
    pieces = list(llm.stream([{"role": "user", "content": "Name two animals."}], max_tokens=16))
    assert "".join(pieces).strip()


def test_unreachable_server_is_a_clear_error():
    backend = OpenAICompatBackend(f"http://127.0.0.1:{free_port()}/v1", "m", max_retries=1,
                                  backoff_s=0.01)
    with pytest.raises(ModelUnreachableError, match="cannot connect"):
        LLMClient(backend).complete([{"role": "user", "content": "hi"}])


def test_timeout_is_retried_then_reported():
    # a socket that accepts connections and never answers
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []

    def accept_forever():
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept_forever, daemon=True).start()
    port = listener.getsockname()[1]
    backend = OpenAICompatBackend(f"http://127.0.0.1:{port}/v1", "m", timeout_s=0.3,
                                  max_retries=2, backoff_s=0.01)
    with pytest.raises(ModelTimeoutError, match="3 attempt"):
        LLMClient(backend).complete([{"role": "user", "content": "hi"}])
    assert len(accepted) == 3
    listener.close()
