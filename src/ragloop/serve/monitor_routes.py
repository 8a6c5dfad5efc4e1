"""The production loop's endpoints: human labels, the review queue, the online monitor's
state and the quality dashboard (JSON, and the HTML page the web page's tab shows)."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import Field

from ragloop.feedback.labels import label_json
from ragloop.feedback.store import TraceWithFeedback, trace_summary
from ragloop.monitor.dashboard import build_dashboard
from ragloop.monitor.report import dashboard_page
from ragloop.monitor.review import BUCKETS, ReviewItem, review_queue
from ragloop.serve.schemas import Strict
from ragloop.serve.state import ServerState

router = APIRouter()


class LabelRequest(Strict):
    trace_id: str = Field(min_length=1, max_length=200)
    metric: Literal["faithfulness", "correctness", "relevance"]
    label: Literal[0, 1]
    note: str | None = Field(default=None, max_length=5000)
    reviewer: str | None = Field(default=None, max_length=200)


def server(request: Request) -> ServerState:
    return request.app.state.ragloop


@router.post("/v1/labels", status_code=201)
async def add_label(body: LabelRequest, request: Request):
    """Label an answer by its trace id: faithful to its sources, correct, relevant (1 yes,
    0 no). Returns the stored label with its id and its split ("train" or "test", one per
    trace); `ragloop eval calibrate` measures the judges on the test split."""
    state = server(request)
    trace = await asyncio.to_thread(state.store.get_trace, body.trace_id)  # 404 if unknown
    label = await asyncio.to_thread(state.monitoring.labels.add, trace, body.metric,
                                    body.label, reviewer=body.reviewer or "",
                                    note=body.note or "")
    return label_json(label)


@router.get("/v1/labels")
async def list_labels(request: Request,
                      metric: Literal["faithfulness", "correctness", "relevance"] | None = None,
                      trace_id: str | None = Query(None, max_length=200),
                      limit: int = Query(100, ge=1, le=10_000)):
    """Stored labels, newest first, of one metric and/or one trace."""
    labels = await asyncio.to_thread(server(request).monitoring.labels.list, metric=metric,
                                     trace_id=trace_id, limit=limit)
    return {"labels": [label_json(label) for label in labels]}


def _item_json(item: ReviewItem) -> dict:
    data = trace_summary(TraceWithFeedback(item.trace, item.feedback))
    data["review"] = {"bucket": BUCKETS[item.bucket], "reason": item.reason}
    data["online_scores"] = {m: json.loads(s.model_dump_json(include={
        "value", "status", "detail", "check", "model"})) for m, s in item.scores.items()}
    return data


@router.get("/v1/review")
async def review(request: Request, limit: int = Query(20, ge=1, le=200)):
    """Traces to label, in the order worth a human's minute: thumbs down, low online
    scores, checks that disagree, then a random sample. Labelled traces are left out."""
    state = server(request)
    monitor = state.settings.monitor
    items = await asyncio.to_thread(
        review_queue, state.monitoring.db, state.monitoring.labels, state.monitoring.scores,
        window=monitor.review_window, limit=limit, low_score=monitor.low_score)
    return {"items": [_item_json(item) for item in items]}


@router.get("/v1/monitor/status")
async def monitor_status(request: Request):
    """The online monitor: whether it runs, what it scored, how far behind it is."""
    return await asyncio.to_thread(server(request).monitoring.status)


def _dashboard(state: ServerState, days: int | None) -> dict:
    return build_dashboard(state.monitoring.db, state.monitoring.scores, state.settings,
                           state.data_dir, days=days)


@router.get("/v1/monitor/dashboard")
async def dashboard(request: Request, days: int | None = Query(None, ge=1, le=366)):
    """The quality dashboard's figures by UTC day and for the last two drift windows."""
    return await asyncio.to_thread(_dashboard, server(request), days)


@router.get("/monitor/report", include_in_schema=False, response_class=HTMLResponse)
async def dashboard_html(request: Request, days: int | None = Query(None, ge=1, le=366)):
    """The dashboard as a self-contained page (what `ragloop monitor report` writes)."""
    state = server(request)
    data = await asyncio.to_thread(_dashboard, state, days)
    return HTMLResponse(await asyncio.to_thread(dashboard_page, data))
