"""The HTTP API against a fake pipeline: answers, streams, feedback, traces, OpenAI shape."""

from __future__ import annotations

import json

from ragloop.feedback.store import TraceStore


def sse_events(text: str) -> list[tuple[str, str]]:
    events = []
    for block in text.strip().split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        events.append((event, "\n".join(data)))
    return events


def test_ask_returns_answer_with_citations_and_stores_a_trace(client, tmp_path):
    response = client.post("/v1/ask", json={"question": "Why are there tides?"})
    assert response.status_code == 200
    body = response.json()
    assert body["answer"].startswith("Tides come from the Moon")
    assert [c["marker"] for c in body["citations"]] == [1, 2]
    assert body["chunks"][0]["text"].startswith("Tides are caused")
    assert body["usage"] == {"prompt_tokens": 120, "completion_tokens": 18}
    assert body["route"]["chosen"] == body["strategy"] and "reason" in body["route"]
    assert body["cached"] is False and body["model_calls"] >= 1
    trace = TraceStore.for_data_dir(tmp_path / "data").get_trace(body["trace_id"])
    assert trace.question == "Why are there tides?"
    assert trace.retrieved_ids == ("c-tides", "c-sun")
    assert trace.spans[0].attributes["ragloop.signals"] == ["bm25"]
    generate = [s for s in trace.spans if s.name == "generate"][0]
    assert generate.attributes["gen_ai.request.model"] == "fake-llm"
    assert generate.attributes["gen_ai.usage.input_tokens"] == 120


def test_ask_streams_deltas_then_the_answer(client):
    for kwargs in ({"json": {"question": "tides?", "stream": True}},
                   {"json": {"question": "tides?"}, "headers": {"Accept": "text/event-stream"}}):
        response = client.post("/v1/ask", **kwargs)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.text)
        deltas = [json.loads(d)["text"] for e, d in events if e == "delta"]
        assert len(deltas) > 3
        kind, final = events[-1]
        assert kind == "answer"
        final = json.loads(final)
        assert "".join(deltas).strip() == final["answer"]
        assert client.get(f"/v1/traces/{final['trace_id']}").json()["metadata"]["streamed"]


def test_feedback_round_trip_shows_in_trace_listing(client):
    trace_id = client.post("/v1/ask", json={"question": "tides?"}).json()["trace_id"]
    assert client.post("/v1/feedback", json={"trace_id": trace_id, "rating": "down"}
                       ).status_code == 201
    assert client.post("/v1/feedback", json={"trace_id": trace_id,
                                             "corrected_answer": "The Moon [1]."}
                       ).status_code == 201
    listed = client.get("/v1/traces?limit=5").json()["traces"]
    assert listed[0]["id"] == trace_id
    assert listed[0]["rating"] == "down"
    assert listed[0]["corrected_answer"] == "The Moon [1]."
    assert len(client.get(f"/v1/traces/{trace_id}").json()["feedback"]) == 2


def test_chat_completions_non_streaming_has_openai_shape(client):
    body = client.post("/v1/chat/completions", json={
        "model": "ragloop", "temperature": 0.2,
        "messages": [{"role": "system", "content": "be brief"},
                     {"role": "user", "content": "Why tides?"}]}).json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert "Moon" in body["choices"][0]["message"]["content"]
    assert body["usage"]["total_tokens"] == 138
    assert client.get(f"/v1/traces/{body['ragloop']['trace_id']}").status_code == 200


def test_chat_completions_streaming_chunks_end_with_done(client):
    response = client.post("/v1/chat/completions", json={
        "stream": True, "messages": [{"role": "user", "content": "Why tides?"}]})
    events = sse_events(response.text)
    assert events[-1] == ("message", "[DONE]")
    chunks = [json.loads(d) for _, d in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "Moon" in text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_chat_completions_without_user_message_is_400(client):
    response = client.post("/v1/chat/completions",
                           json={"messages": [{"role": "system", "content": "hi"}]})
    assert response.status_code == 400
    assert "user message" in response.json()["error"]["message"]


def test_page_openapi_and_health(client):
    assert "<title>ragloop</title>" in client.get("/").text
    assert "loadTraces" in client.get("/static/app.js").text
    assert "sseEvents" in client.get("/static/chat.js").text
    schema = client.get("/openapi.json").json()
    for path in ("/v1/ask", "/v1/feedback", "/v1/documents", "/v1/traces/{trace_id}",
                 "/v1/chat/completions", "/v1/chat", "/v1/conversations", "/healthz"):
        assert path in schema["paths"], path
    assert client.get("/healthz").json()["status"] == "ok"


def test_latest_eval_report_is_served(client, tmp_path):
    assert client.get("/v1/reports/latest").json()["available"] is False
    assert client.get("/report").status_code == 404
    import os

    for name, age in (("old", 100), ("new", 0)):
        run = tmp_path / "data" / "runs" / name
        run.mkdir(parents=True)
        (run / "report.html").write_text(f"<h1>report {name}</h1>")
        os.utime(run / "report.html", (1_700_000_000 - age, 1_700_000_000 - age))
    assert client.get("/v1/reports/latest").json()["run"] == "new"
    assert client.get("/report").text == "<h1>report new</h1>"
    assert client.get("/runs/new/%2e%2e/%2e%2e/traces.sqlite").status_code == 404


class BrokenFakePipeline:
    """A fake pipeline whose index is missing, as before the first `ragloop ingest`."""

    def ask(self, question, **kwargs):
        from ragloop.errors import StoreError

        raise StoreError("no index at .ragloop/index: run `ragloop ingest` first")

    def stream(self, question, **kwargs):
        from ragloop.records import AnswerEvent

        yield AnswerEvent.delta("partial ")
        self.ask(question)


def test_pipeline_errors_are_reported_not_hung(tmp_path):
    from fastapi.testclient import TestClient
    from serve_helpers import LOCAL, serve_settings

    from ragloop.serve.app import create_app

    app = create_app(BrokenFakePipeline(), serve_settings(), data_dir=tmp_path)
    with TestClient(app, base_url=LOCAL) as client:
        plain = client.post("/v1/ask", json={"question": "tides?"})
        assert plain.status_code == 500
        assert "ragloop ingest" in plain.json()["error"]["message"]
        streamed = client.post("/v1/ask", json={"question": "tides?", "stream": True})
        events = sse_events(streamed.text)
        assert events[0] == ("delta", '{"text": "partial "}')
        assert events[-1][0] == "error" and "ragloop ingest" in events[-1][1]
        assert app.state.ragloop.gate.pending == 0
