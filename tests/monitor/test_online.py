"""Online evaluation (issue 28 item 1): the checks that need no model, the likelihood judge
and the LLM judges at a rate and a budget, failures recorded as such; ``ragloop monitor
run`` over stored traces; the server's background monitor, whose model calls never run
while a request holds the model."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from monitor_helpers import GOOD, INVENTED, answer, store
from serve_helpers import LOCAL
from typer.testing import CliRunner

from ragloop.cli import app
from ragloop.config import MonitorSettings, parse_settings
from ragloop.errors import ModelTimeoutError
from ragloop.feedback.store import TraceStore
from ragloop.feedback.tracing import build_trace
from ragloop.models.llm import LLMClient
from ragloop.monitor.checks import cheap_scores, sampled
from ragloop.monitor.scorer import TraceScorer
from ragloop.records import Trace
from ragloop.serve.gate import ModelGate

runner = CliRunner()


def trace_of(made, **kwargs) -> Trace:
    from monitor_helpers import NOW

    return build_trace(made, started=NOW, wall_s=0.5, **kwargs)


def by_metric(rows) -> dict:
    return {r.metric: r for r in rows}


def test_cheap_checks_pass_a_grounded_answer_fail_an_invented_one_skip_a_refusal():
    good = by_metric(cheap_scores(trace_of(GOOD)))
    assert good["grounded"].value == 1.0 and good["grounded"].check == "grounding"
    assert good["citation_precision"].value == 1.0 and good["grounding_support"].value > 0.8
    invented = by_metric(cheap_scores(trace_of(INVENTED)))
    assert invented["grounded"].value == 0.0 and invented["grounding_support"].value < 0.5
    assert "content words" in invented["grounded"].detail or invented["grounded"].detail
    uncited = by_metric(cheap_scores(trace_of(answer("The Moon pulls the oceans."))))
    assert uncited["citation_precision"].status == "skipped"
    refusal = cheap_scores(trace_of(answer("I cannot answer that.", refused=True)))
    assert {r.status for r in refusal} == {"skipped"} and all(r.value is None for r in refusal)


def test_the_sample_is_a_stable_hash_of_the_trace_id():
    ids = [f"trace-{i}" for i in range(400)]
    chosen = [i for i in ids if sampled(i, 0.25)]
    assert chosen == [i for i in ids if sampled(i, 0.25)]  # same answer in every process
    assert 60 < len(chosen) < 140
    assert all(sampled(i, 1.0) for i in ids) and not any(sampled(i, 0.0) for i in ids)


class FakeJudgeBackend:
    """A fake judge model (not a model): the faithfulness judge times out, the relevancy
    judge answers with JSON; token scores as ``tests.fakes.FakeScoringBackend`` gives."""

    def __new__(cls):
        from fakes import FakeScoringBackend

        def respond(messages, params, schema):
            prompt = " ".join(m.content for m in messages).lower()
            if 'verdict "faithful"' in prompt:
                raise ModelTimeoutError("fake: the judge took longer than its timeout")
            return '{"verdict": "relevant", "reason": "fake: it answers the question"}'

        return FakeScoringBackend(respond)


def test_likelihood_then_judges_at_their_rate_failures_and_spent_budget_recorded():
    settings = MonitorSettings(judge_rate=1.0, judges=("faithfulness", "relevancy"))
    llm = LLMClient(FakeJudgeBackend())
    budget = {"left": 1}  # judge calls still allowed today
    scorer = TraceScorer(settings, llm, threshold_for=lambda model: 0.5,
                         budget_left=lambda: budget["left"])
    good = by_metric(scorer.score(trace_of(GOOD)))
    assert good["faithfulness_gain"].value > 0.5 and good["faithfulness_gain"].model == "fake-llm"
    assert good["judge_faithfulness_likelihood"].value == 1.0
    assert good["judge_faithfulness"].status == "timeout"  # recorded, never a score
    assert good["judge_faithfulness"].value is None
    assert "ModelTimeoutError" in good["judge_faithfulness"].detail
    # one call was left: faithfulness spent it, relevancy is skipped for the budget
    assert good["judge_relevancy"].status == "skipped"
    assert "judge_daily_calls" in good["judge_relevancy"].detail
    invented = by_metric(scorer.score(trace_of(INVENTED)))
    assert invented["judge_faithfulness_likelihood"].value == 0.0
    assert invented["judge_relevancy"].status == "skipped"
    budget["left"] = 0
    spent = by_metric(scorer.score(trace_of(GOOD)))
    assert {spent[m].status for m in ("judge_faithfulness", "judge_relevancy")} == {"skipped"}
    # a model error in the likelihood pass is this trace's error, not the batch's
    broken = by_metric(scorer.score(trace_of(answer("An overlong answer [1]."))))
    assert broken["faithfulness_gain"].status == "error"
    # judges are sampled too: at judge_rate 0 no judge is asked
    quiet = TraceScorer(MonitorSettings(judge_rate=0.0), llm, budget_left=lambda: 100)
    quiet_rows = by_metric(quiet.score(trace_of(GOOD)))
    assert "judge_relevancy" not in quiet_rows
    assert quiet_rows["judge_faithfulness_likelihood"].status == "skipped"  # no threshold


def test_monitor_run_scores_the_sample_of_stored_traces_once(project):
    traces = TraceStore.for_data_dir(project.data_dir)
    now = datetime.now(UTC)
    for made in (GOOD, INVENTED):
        store(traces, made, at=now)
    traces.close()
    args = ["-p", str(project.root), "monitor", "run", "--no-model", "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    counts = json.loads(first.output)
    assert counts["scored"] == 2 and counts["statuses"]["grounded:ok"] == 2
    again = json.loads(runner.invoke(app, args).output)
    assert again["scored"] == 0 and again["already_scored"] == 2
    shown = runner.invoke(app, ["-p", str(project.root), "monitor", "report", "--json"])
    data = json.loads(shown.output)
    assert data["scored_answers"] == 2 and data["current"]["rates"]["grounded"]["k"] == 1


def test_a_monitor_job_waits_while_a_request_holds_or_waits_for_the_model():
    gate = ModelGate(capacity=4)
    ran: list[float] = []
    stop = threading.Event()
    gate.admit()  # a request holds a place
    worker = threading.Thread(target=lambda: gate.run_when_idle(
        lambda: ran.append(time.monotonic()), idle_s=0.05, stop=stop, poll_s=0.01))
    worker.start()
    time.sleep(0.3)
    assert ran == []  # never while a request is there
    released = time.monotonic()
    gate.release()
    worker.join(5)
    assert ran and ran[0] - released >= 0.05  # and only after the model was idle a while
    stop.set()
    gate.shutdown()


class ScoringPipeline:
    """The server-tests' fake pipeline with a fake judge model whose every call checks that
    no answer is being made at the same moment (the embedded model is not re-entrant)."""

    def __init__(self):
        from serve_fake_pipeline import FakePipeline

        from fakes import FakeScoringBackend

        self.answers = FakePipeline(delay_s=0.05)
        backend = FakeScoringBackend()
        scores = backend.token_logprobs
        self.overlaps = 0

        def checked(messages, continuation):
            if not self.answers._busy.acquire(blocking=False):
                self.overlaps += 1
            else:
                self.answers._busy.release()
            time.sleep(0.02)
            return scores(messages, continuation)

        backend.token_logprobs = checked
        self.judge_llm = LLMClient(backend)

    def stream(self, *args, **kwargs):
        return self.answers.stream(*args, **kwargs)

    def ask(self, *args, **kwargs):
        return self.answers.ask(*args, **kwargs)


def test_the_server_scores_live_traces_in_the_background_between_requests(tmp_path):
    from ragloop.serve.app import create_app

    pipeline = ScoringPipeline()
    settings = parse_settings({"monitor": {"idle_s": 0.0}})
    with TestClient(create_app(pipeline, settings, data_dir=tmp_path / "data"),
                    base_url=LOCAL) as client:
        ids = [client.post("/v1/ask", json={"question": f"Why tides {i}?"}).json()["trace_id"]
               for i in range(4)]
        deadline = time.monotonic() + 20
        while (status := client.get("/v1/monitor/status").json())["scored"] < 4:
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
        assert status["failed"] == 0 and status["lag"] == 0
        queue = client.get("/v1/review").json()["items"]
    assert {item["id"] for item in queue} == set(ids)
    scores = queue[0]["online_scores"]
    assert scores["grounded"]["status"] == "ok"
    assert scores["faithfulness_gain"]["status"] == "ok"  # the gated judge model scored it
    assert pipeline.overlaps == 0


@pytest.mark.real_model
def test_real_model_scores_live_traffic_in_the_background_with_a_judge_budget(tmp_path):
    """The real embedded model answers and, between requests, scores each trace: the
    likelihood judge with the shipped threshold for this model, the LLM faithfulness judge
    on the sample while the day's budget (one call) lasts."""
    from ragloop.pipeline import Pipeline
    from ragloop.serve.app import create_app
    from real_project import ingested_project

    project = ingested_project(tmp_path / "proj", max_tokens=8, answer='mode = "fast"\n'
                               'strategy = "extract"', tail="[monitor]\njudge_rate = 1.0\n"
                               'judges = ["faithfulness"]\njudge_daily_calls = 1\n'
                               "idle_s = 0.0\n")
    questions = ["What causes ocean tides?", "Why does a volcano erupt?"]
    with TestClient(create_app(Pipeline(project), project.settings,
                               data_dir=project.data_dir), base_url=LOCAL) as client:
        for question in questions:
            assert client.post("/v1/ask", json={"question": question}).status_code == 200
        deadline = time.monotonic() + 120
        while (status := client.get("/v1/monitor/status").json())["scored"] < 2:
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        items = client.get("/v1/review").json()["items"]
    assert status["failed"] == 0
    for item in items:
        scores = item["online_scores"]
        assert scores["grounded"]["status"] == "ok"
        gain = scores["faithfulness_gain"]
        assert gain["status"] == "ok" and gain["model"].startswith("SmolLM2")
        verdict = scores["judge_faithfulness_likelihood"]
        assert verdict["status"] == "ok" and verdict["value"] in (0.0, 1.0)
    judged = sorted(item["online_scores"]["judge_faithfulness"]["status"] for item in items)
    # one call in the budget: one trace judged (a verdict, or an unparseable one recorded
    # as an error), the other skipped
    assert judged[-1] == "skipped" and judged[0] in ("error", "ok"), judged
