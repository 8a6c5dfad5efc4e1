"""Issue 15.4: the web page's streamed answers use the LLM cache like ``ragloop ask``. The
real Pipeline, store and disk cache; the embedder and the LLM backend are fakes (named as
such), the backend answering differently on every call that reaches it."""

from __future__ import annotations

import itertools
import json

from fastapi.testclient import TestClient
from serve_helpers import LOCAL, serve_settings
from test_api import sse_events

from fakes import FakeEmbedder, FakeLLMBackend
from ragloop.models.cache import DiskCache
from ragloop.models.llm import LLMClient
from ragloop.pipeline import Pipeline
from ragloop.project import Project
from ragloop.serve.app import create_app


def test_the_same_streamed_question_twice_is_answered_once_then_from_cache(tmp_path):
    reached = itertools.count(1)
    backend = FakeLLMBackend(lambda messages, params, schema: json.dumps(
        {"answer": f"The Moon, take {next(reached)}.", "sources": [1]}))
    settings = serve_settings()
    project = Project(root=tmp_path, settings=settings)
    llm = LLMClient(backend, DiskCache(project.data_dir / "cache" / "llm.sqlite",
                                       table="completions"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.md").write_text("# Tides\n\nThe Moon's gravity pulls the oceans.\n")
    with Pipeline(project, llm=llm, embedder=FakeEmbedder()) as pipeline, \
            TestClient(create_app(pipeline, settings, data_dir=project.data_dir),
                       base_url=LOCAL) as client:
        assert pipeline.ingest([docs]).ok
        answers, traces = [], []
        for _ in range(2):
            response = client.post("/v1/ask", json={"question": "What pulls the oceans?",
                                                    "stream": True, "mode": "fast"})
            assert response.status_code == 200
            final = json.loads(sse_events(response.text)[-1][1])
            answers.append(final["answer"])
            traces.append(client.get(f"/v1/traces/{final['trace_id']}").json())
    assert answers[0] == answers[1] == "The Moon, take 1 [1]."
    cached = [[s["attributes"]["ragloop.cached"] for s in t["spans"] if s["name"] == "generate"]
              for t in traces]
    assert cached == [[False], [True]]
