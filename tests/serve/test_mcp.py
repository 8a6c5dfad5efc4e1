"""The MCP server, driven by the official SDK's own client on the real embedded pipeline:
over stdio (spawning `ragloop mcp`) and over streamable HTTP on a real `ragloop serve`
(spawned too), behind its API key and Origin check."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import httpx2
import pytest
from live import free_port
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

import ragloop
from ragloop.feedback.store import TraceStore
from real_project import ingested_project

KEY = "mcp-test-key"
KEY_ENV = "RAGLOOP_MCP_TEST_KEY"
TOOLS = {"search", "ask", "list_documents", "get_document", "record_feedback"}
RAGLOOP = Path(sys.executable).with_name("ragloop")
# the SDK starts a server with a minimal environment; this names the ragloop under test
SOURCE_ENV = {"PYTHONPATH": str(Path(ragloop.__file__).parents[1])}

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return ingested_project(tmp_path_factory.mktemp("mcp") / "proj", max_tokens=8,
                            tail=f'[serve]\napi_key_env = "{KEY_ENV}"\n')


def _run(scenario):
    return asyncio.run(asyncio.wait_for(scenario, timeout=120))


async def _search_and_ask(client: Client) -> dict:
    """What both transports must do: list the five tools, search, ask (with progress)."""
    listed = (await client.list_tools()).tools
    assert {tool.name for tool in listed} == TOOLS
    assert all(tool.input_schema["type"] == "object" and tool.output_schema for tool in listed)

    found = await client.call_tool("search", {"query": "What causes ocean tides?", "k": 2})
    assert not found.is_error, found.content
    best = found.structured_content["results"][0]
    assert best["source"].endswith("tides.md") and "Moon" in best["text"]
    assert best["title"] == "Tides" and best["section"] == ["Tides"] and best["rank"] == 1
    assert "Moon" in found.content[0].text

    progress: list[str] = []

    async def heard(_done, _total, message):
        progress.append(message)

    asked = await client.call_tool("ask", {"question": "What causes ocean tides?",
                                           "mode": "fast"}, progress_callback=heard)
    assert not asked.is_error, asked.content
    answer = asked.structured_content
    assert answer["answer"].strip() and answer["strategy"] == "direct" and answer["trace_id"]
    assert answer["model_calls"] == 1 and answer["route"]["chosen"] == "direct"
    assert progress and progress[0]  # the text written so far, while it was written
    assert answer["trace_id"] in asked.content[0].text
    assert "1 model call" in asked.content[0].text
    return answer


def test_stdio_server_spawned_as_ragloop_mcp(project):
    async def scenario():
        server = StdioServerParameters(command=str(RAGLOOP), env=SOURCE_ENV,
                                       args=["mcp", "-p", str(project.root)])
        async with Client(server) as client:
            answer = await _search_and_ask(client)
            assert answer["conversation_id"] is None  # a lone question stores no conversation

            # a conversation: 'new' starts one, its id continues it
            first = (await client.call_tool("ask", {
                "question": "What causes ocean tides?", "mode": "fast",
                "conversation_id": "new"})).structured_content
            follow = await client.call_tool("ask", {
                "question": "And how often?", "mode": "fast",
                "conversation_id": first["conversation_id"]})
            assert not follow.is_error, follow.content
            assert first["conversation_id"]
            assert follow.structured_content["conversation_id"] == first["conversation_id"]

            # bad input: an error result saying what to send, and the server goes on
            for tool, args, words in [
                ("get_document", {"doc_id": "no-such-doc"}, "no indexed document has the id"),
                ("search", {"query": "   "}, "query is empty"),
                ("search", {"query": "tides", "k": 0}, "k must be between 1 and 50"),
                ("search", {"query": "tides", "k": 51}, "k must be between 1 and 50"),
                ("ask", {"question": ""}, "question is empty"),
                ("ask", {"question": "Why?", "conversation_id": "c1"},
                 "no conversation with id 'c1'"),
                ("list_documents", {"limit": 0}, "limit must be between 1 and 500"),
                ("record_feedback", {"trace_id": "no-such-trace", "rating": "up"},
                 "no trace with id"),
            ]:
                refused = await client.call_tool(tool, args)
                assert refused.is_error and words in refused.content[0].text, (tool, refused)

            listed = await client.call_tool("list_documents", {"match": "tides"})
            assert listed.structured_content["matched"] == 1
            doc = listed.structured_content["documents"][0]
            detail = await client.call_tool("get_document", {"doc_id": doc["doc_id"],
                                                             "chunk_id": f"{doc['doc_id']}#0"})
            assert not detail.is_error, detail.content
            assert detail.structured_content["outline"][0]["section"] == ["Tides"]
            assert "Moon" in detail.structured_content["chunk"]["text"]
            no_chunk = await client.call_tool("get_document", {"doc_id": doc["doc_id"],
                                                               "chunk_id": "nope"})
            assert no_chunk.is_error and "has no chunk 'nope'" in no_chunk.content[0].text

            resources = {r.uri: r for r in (await client.list_resources()).resources}
            assert doc["uri"] in resources and len(resources) == 2
            read = await client.read_resource(doc["uri"])
            assert "gravity of the Moon" in read.contents[0].text

            rated = await client.call_tool("record_feedback", {
                "trace_id": answer["trace_id"], "rating": "down",
                "correction": "The Moon's gravity."})
            assert not rated.is_error, rated.content
        return answer["trace_id"]

    trace_id = _run(scenario())
    store = TraceStore.for_data_dir(project.data_dir)  # where the web page's feedback goes
    try:
        (feedback,) = store.feedback_for(trace_id)
        assert feedback.rating == "down" and feedback.corrected_answer == "The Moon's gravity."
    finally:
        store.close()


@pytest.fixture(scope="module")
def served(project):
    """A real `ragloop serve` of the project, with an API key; its /mcp URL."""
    port = free_port()
    process = subprocess.Popen([str(RAGLOOP), "-p", str(project.root), "serve", "--port",
                                str(port), "--log-level", "warning"],
                               env={**os.environ, KEY_ENV: KEY},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            httpx.get(base + "/healthz", timeout=1)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "ragloop serve did not come up"
            time.sleep(0.2)
    try:
        yield base + "/mcp"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _http_client(url: str, headers: dict[str, str], statuses: list[int] | None = None
                 ) -> Client:
    async def heard(response):
        if statuses is not None:
            statuses.append(response.status_code)

    http = httpx2.AsyncClient(headers=headers, event_hooks={"response": [heard]})
    return Client(streamable_http_client(url, http_client=http))


def test_http_server_on_ragloop_serve(served):
    async def scenario():
        async with _http_client(served, {"Authorization": f"Bearer {KEY}"}) as client:
            await _search_and_ask(client)
            refused = await client.call_tool("get_document", {"doc_id": "no-such-doc"})
            assert refused.is_error and "no indexed document" in refused.content[0].text

    _run(scenario())


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"Authorization": "Bearer wrong"}, 401),
    ({"Authorization": f"Bearer {KEY}", "Origin": "http://evil.example"}, 403),
])
def test_http_server_refuses_without_the_key_or_from_a_foreign_origin(served, headers, status):
    statuses: list[int] = []

    async def scenario():
        async with _http_client(served, headers, statuses):
            pass

    with pytest.raises(ExceptionGroup) as refused:  # the SDK's task groups wrap its error
        _run(scenario())
    assert refused.group_contains(MCPError)
    assert statuses and set(statuses) == {status}  # each request it tried was refused
