"""The server on the real pipeline (MiniLM embedder, SmolLM2 answers): upload → ingest →
ask → trace with real token counts → feedback → SFT export."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from serve_helpers import LOCAL

from ragloop.feedback.export import EXPORTERS, judged_items
from ragloop.feedback.export.schema import validate_row
from ragloop.pipeline import Pipeline
from ragloop.serve.app import create_app
from real_project import INLINE, make_project, write_docs


@pytest.mark.real_model
def test_upload_ask_feedback_on_the_real_pipeline(tmp_path):
    project = make_project(tmp_path / "proj", max_tokens=16, answer=INLINE)
    app = create_app(Pipeline(project), project.settings, data_dir=project.data_dir)
    docs = write_docs(tmp_path / "docs")
    with TestClient(app, base_url=LOCAL) as client:
        files = [("files", (p.name, p.read_bytes(), "text/markdown")) for p in docs]
        uploaded = client.post("/v1/documents", files=files)
        assert uploaded.status_code == 201, uploaded.text
        body = uploaded.json()
        assert body["ok"] and body["counts"]["added"] == 2, body
        assert (project.data_dir / "uploads" / "tides.md").is_file()

        asked = client.post("/v1/ask", json={"question": "What causes ocean tides?"})
        assert asked.status_code == 200, asked.text
        answer = asked.json()
        assert answer["answer"].strip()
        assert answer["chunks"] and "Moon" in answer["chunks"][0]["text"]
        trace = client.get(f"/v1/traces/{answer['trace_id']}").json()
        generate = [s for s in trace["spans"] if s["name"] == "generate"][0]["attributes"]
        assert generate["gen_ai.usage.input_tokens"] > 20
        assert 0 < generate["gen_ai.usage.output_tokens"] <= 16 + 2
        assert "smollm" in generate["gen_ai.request.model"].lower()

        assert client.post("/v1/feedback", json={
            "trace_id": answer["trace_id"], "rating": "down",
            "corrected_answer": "The Moon's gravity [1]."}).status_code == 201
        store = app.state.ragloop.store
        rows = list(EXPORTERS["sft"].rows(judged_items(store)))
        assert len(rows) == 1
        validate_row("sft", rows[0])
        assert "Moon" in rows[0]["messages"][0]["content"]
