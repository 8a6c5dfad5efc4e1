"""Conversations over HTTP on the real pipeline (MiniLM + SmolLM2, a few answer tokens):
``/v1/chat`` JSON and streamed with a conversation id, ``/v1/conversations`` list/get/delete,
and ``/v1/chat/completions`` honouring the whole messages list."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from serve_helpers import LOCAL

from ragloop.pipeline import Pipeline
from ragloop.serve.app import create_app
from ragloop.serve.openai_routes import options_of
from ragloop.serve.schemas import ChatCompletionRequest
from real_project import ingested_project

CARRY = '[chat]\ncondense = "carry"\n'  # no model call to condense: the test stays fast


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    project = ingested_project(tmp_path_factory.mktemp("chat") / "proj", max_tokens=8,
                               tail=CARRY)
    app = create_app(Pipeline(project), project.settings, data_dir=project.data_dir)
    with TestClient(app, base_url=LOCAL) as test_client:
        yield test_client


def _events(response) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in response.text.splitlines():
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line.split(":", 1)[1])))
    return events


@pytest.mark.real_model
def test_a_conversation_over_http(client):
    first = client.post("/v1/chat", json={"question": "What causes ocean tides?"})
    assert first.status_code == 200, first.text
    conversation_id = first.json()["conversation_id"]
    assert first.json()["answer"].strip()

    follow = client.post("/v1/chat", json={"question": "What else adds to them?",
                                           "conversation_id": conversation_id})
    assert follow.status_code == 200, follow.text
    body = follow.json()
    assert body["conversation_id"] == conversation_id
    assert "tides" in body["search_query"].lower()  # carried from the first turn
    assert "tides.md" in body["chunks"][0]["source"]

    streamed = client.post("/v1/chat", json={"question": "And the Sun?", "stream": True,
                                             "conversation_id": conversation_id})
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    final = [data for name, data in _events(streamed) if name == "answer"]
    assert final and final[0]["conversation_id"] == conversation_id

    stored = client.get(f"/v1/conversations/{conversation_id}").json()
    assert [t["question"] for t in stored["turns"]] == [
        "What causes ocean tides?", "What else adds to them?", "And the Sun?"]
    assert stored["turns"][1]["trace_id"] == body["trace_id"]
    listed = client.get("/v1/conversations").json()["conversations"]
    assert listed[0]["id"] == conversation_id and listed[0]["turns"] == 3
    assert listed[0]["title"] == "What causes ocean tides?"

    assert client.delete(f"/v1/conversations/{conversation_id}").status_code == 204
    gone = client.get(f"/v1/conversations/{conversation_id}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "unknown_conversation"
    unknown = client.post("/v1/chat", json={"question": "hi", "conversation_id": "nope"})
    assert unknown.status_code == 404


def test_openai_messages_become_instruction_history_and_question():
    body = ChatCompletionRequest(messages=[
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What causes ocean tides?"},
        {"role": "assistant", "content": "The Moon's gravity."},
        {"role": "user", "content": [{"type": "text", "text": "What else?"}]},
    ])
    question, options = options_of(body)
    assert question == "What else?"
    assert options.instruction == "Answer briefly."
    assert [(t.question, t.answer) for t in options.history.turns] == [
        ("What causes ocean tides?", "The Moon's gravity.")]
    alone, plain = options_of(ChatCompletionRequest(messages=[{"role": "user",
                                                               "content": "Hi"}]))
    assert alone == "Hi" and plain.plain


@pytest.mark.real_model
def test_chat_completions_searches_the_follow_up_with_its_history(client):
    messages = [{"role": "user", "content": "What causes ocean tides?"},
                {"role": "assistant", "content": "The Moon."},
                {"role": "user", "content": "What else adds to them?"}]
    done = client.post("/v1/chat/completions", json={"messages": messages})
    assert done.status_code == 200, done.text
    trace = client.get(f"/v1/traces/{done.json()['ragloop']['trace_id']}").json()
    assert trace["metadata"]["chat"]["history_turns"] == 1
    assert "tides" in trace["metadata"]["chat"]["search_query"].lower()

    streamed = client.post("/v1/chat/completions", json={"messages": messages, "stream": True})
    chunks = [json.loads(line[5:]) for line in streamed.text.splitlines()
              if line.startswith("data:") and "[DONE]" not in line]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    listed = client.get("/v1/conversations").json()["conversations"]
    assert all(c["id"] != "client" for c in listed)  # the client's history is not stored
