"""Item 8 of issue 11: `Retry-After` must come from how long jobs run on the model thread,
not from how long requests waited in the queue behind one slow job. Real server (uvicorn),
the fake pipeline (named as such) answering in 0.03 s after one 2 s question."""

from __future__ import annotations

import asyncio

import httpx
from live import live_server
from serve_fake_pipeline import FakePipeline
from serve_helpers import serve_settings

from ragloop.serve.app import create_app
from ragloop.serve.gate import ModelGate


class OneSlowQuestionFakePipeline(FakePipeline):
    """The fake pipeline; the question "slow" takes 2 s, every other one 0.03 s."""

    def ask(self, question, **kwargs):
        self.delay_s = 2.0 if question == "slow" else 0.03
        return super().ask(question, **kwargs)


async def _flood(base: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        slow = asyncio.ensure_future(client.post("/v1/ask", json={"question": "slow"}))
        await asyncio.sleep(0.3)  # the slow job is running
        queued = [client.post("/v1/ask", json={"question": f"q{i}"}) for i in range(7)]
        return [await slow, *await asyncio.gather(*queued)]


def test_retry_after_follows_job_durations_not_queue_waits(tmp_path):
    app = create_app(OneSlowQuestionFakePipeline(), serve_settings(queue_size=8),
                     data_dir=tmp_path)
    with live_server(app) as base:
        answered = asyncio.run(_flood(base))
        assert [r.status_code for r in answered] == [200] * 8
        gate: ModelGate = app.state.ragloop.gate
        gate.capacity = 0  # full: the next request is told when to come back
        try:
            full = httpx.post(base + "/v1/ask", json={"question": "tides?"})
        finally:
            gate.capacity = 8
    assert full.status_code == 503
    # 7 jobs of 0.03 s and one of 2 s ran; the queued ones waited up to 2.2 s
    assert full.headers["Retry-After"] == "1"


def test_retry_after_is_the_median_recent_job_time():
    gate = ModelGate(capacity=1)
    assert gate.retry_after() == 1  # nothing measured yet
    for seconds in (0.03,) * 10 + (40.0,):
        gate.record_duration(seconds)
    assert gate.retry_after() == 1
    for seconds in (3.2,) * 30:
        gate.record_duration(seconds)
    assert gate.retry_after() == 4
