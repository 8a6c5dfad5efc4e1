"""The MCP endpoint as one more client of the server (with a fake pipeline, named as such):
its answers wait for the model gate with the HTTP routes' answers, a full queue is an error
result rather than a crash, and on /mcp a foreign Origin is refused for every method."""

from __future__ import annotations

import asyncio

import httpx
import httpx2
from live import live_server
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from serve_fake_pipeline import FakePipeline
from serve_helpers import serve_settings

from ragloop.serve.app import create_app


def _mcp(url: str) -> Client:
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient()))


def test_mcp_and_http_answers_take_turns_on_the_model(tmp_path):
    pipeline = FakePipeline(delay_s=0.3)  # raises if entered by two threads at once
    app = create_app(pipeline, serve_settings(queue_size=2), data_dir=tmp_path)

    async def scenario(base: str):
        async with _mcp(base + "/mcp") as client, httpx2.AsyncClient() as http:
            by_http, by_mcp = await asyncio.gather(
                http.post(base + "/v1/ask", json={"question": "tides?"}, timeout=30),
                client.call_tool("ask", {"question": "tides?"}))
            assert by_http.status_code == 200, by_http.text
            assert not by_mcp.is_error, by_mcp.content
            assert "Moon" in by_mcp.structured_content["answer"]
            assert [c["source"] for c in by_mcp.structured_content["citations"]] == [
                "docs/tides.md", "docs/sun.md"]

            gate = app.state.ragloop.gate
            gate.admit()  # the queue's places are taken
            gate.admit()
            try:
                full = await client.call_tool("ask", {"question": "tides?"})
            finally:
                gate.release()
                gate.release()
            assert full.is_error and "model queue is full" in full.content[0].text
            again = await client.call_tool("ask", {"question": "tides?"})
            assert not again.is_error, again.content

    with live_server(app) as base:
        asyncio.run(asyncio.wait_for(scenario(base), timeout=60))
    assert pipeline.calls == 3


def test_a_foreign_origin_is_refused_on_mcp_for_every_method(tmp_path):
    app = create_app(FakePipeline(), serve_settings(), data_dir=tmp_path)
    evil = {"Origin": "http://evil.example", "Accept": "text/event-stream"}
    with live_server(app) as base:
        # the SSE stream a page could open by GET: refused on /mcp, as the MCP spec asks
        assert httpx.get(base + "/mcp", headers=evil).status_code == 403
        assert httpx.delete(base + "/mcp", headers=evil).status_code == 403
        # other GETs keep their rule: a foreign page may not write, reading is the key's job
        assert httpx.get(base + "/healthz", headers=evil).status_code == 200
