"""The OpenAI-compatible backend against a real server: llama-cpp-python's own server,
started on 127.0.0.1 with the default model."""

import socket
import subprocess
import sys
import threading
import time

import httpx
import jsonschema
import pytest

from ragloop.errors import ModelTimeoutError, ModelUnreachableError
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
