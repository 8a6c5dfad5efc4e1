"""The quality dashboard (issue 28 item 3): by UTC day, thumbs-up, online faithfulness and
grounding rates with intervals, refusals, strategy mix, latency p50/p95, tokens and cost per
answer (unknown, never zero, without a price), the judges' kappa beside their rates, drift
against the previous window."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from monitor_helpers import GOOD, INVENTED, NOW, answer, store

from ragloop.config import parse_settings
from ragloop.feedback.db import Database
from ragloop.feedback.scores import ScoreStore
from ragloop.feedback.store import TraceStore
from ragloop.monitor.batch import score_stored
from ragloop.monitor.dashboard import build_dashboard
from ragloop.monitor.report import dashboard_page
from ragloop.monitor.scorer import TraceScorer

PRICED = {"models": {"prices": {"m": {"input": 1.0, "output": 2.0}}}}


@pytest.fixture(scope="module")
def traffic(tmp_path_factory):
    """Two weeks: the first grounded and liked, the second inventing and disliked."""
    data_dir = tmp_path_factory.mktemp("dashboard")
    traces = TraceStore.for_data_dir(data_dir)
    walls = []
    for day in range(13, 6, -1):  # the previous window: 3 grounded answers a day
        for i in range(3):
            wall = 0.4 + 0.1 * i
            walls.append(("previous", wall))
            store(traces, GOOD, at=NOW - timedelta(days=day, hours=i), wall_s=wall,
                  rating="up" if i else None)
    for day in (5, 3, 0):  # the last window: quiet days between, invented answers
        for i in range(4):
            wall = 1.0 + 0.5 * i
            walls.append(("current", wall))
            store(traces, INVENTED, at=NOW - timedelta(days=day, minutes=i), wall_s=wall,
                  rating="down" if i < 2 else None)
    store(traces, answer("I cannot answer that.", refused=True, strategy="direct"),
          at=NOW - timedelta(hours=1), wall_s=0.2)
    store(traces, answer("Tides [1].", strategy="extract", calls=0), at=NOW, wall_s=0.1)
    traces.close()
    db = Database.for_data_dir(data_dir)
    scores = ScoreStore(db)
    score_stored(TraceScorer(parse_settings({}).monitor), db, scores)
    yield db, scores, data_dir, walls
    db.close()


def test_dashboard_figures_by_day_with_intervals_drift_cost_and_kappa(traffic):
    db, scores, data_dir, walls = traffic
    data = build_dashboard(db, scores, parse_settings({}), data_dir, now=NOW)
    assert len(data["daily"]) == 14 and data["to"] == NOW.date().isoformat()
    quiet = next(d for d in data["daily"] if d["day"] == (NOW - timedelta(days=4)).date()
                 .isoformat())
    assert quiet["answers"] == 0 and quiet["rates"]["grounded"]["rate"] is None  # gaps show
    current, previous = data["current"], data["previous"]
    assert previous["rates"]["thumbs_up"] == {**previous["rates"]["thumbs_up"], "k": 14,
                                              "n": 14, "rate": 1.0}
    assert current["rates"]["thumbs_up"]["k"] == 0 and current["rates"]["thumbs_up"]["n"] == 6
    grounded = current["rates"]["grounded"]
    # 12 invented answers fail; the 2 that pass cite a chunk holding their words
    assert grounded["n"] == 13 and grounded["k"] == 1
    assert 0 <= grounded["low"] <= grounded["rate"] <= grounded["high"] < 0.4
    assert previous["rates"]["grounded"]["rate"] == 1.0
    assert data["drift"]["grounded"] == "down" and data["drift"]["thumbs_up"] == "down"
    assert data["drift"]["refused"] is None  # 1 of 14 is inside the previous interval
    assert current["rates"]["refused"]["k"] == 1 and current["strategies"] == {
        "extract": 13, "direct": 1}
    now_walls = sorted([w for window, w in walls if window == "current"] + [0.2, 0.1])
    assert current["latency_p50_s"] == pytest.approx(np.percentile(now_walls, 50), abs=1e-3)
    assert current["latency_p95_s"] == pytest.approx(np.percentile(now_walls, 95), abs=1e-3)
    assert current["tokens_per_answer"] == pytest.approx(120 * 13 / 14, abs=0.1)
    # no price for model "m": unknown, not zero
    assert current["cost_per_answer"] is None and current["unpriced_answers"] == 13
    kappa = data["kappa"]["grounded"]
    assert kappa["judge"] == "faithfulness (grounding check)" and kappa["kappa"] is not None
    assert "shipped labels" in kappa["describe"]

    priced = build_dashboard(db, scores, parse_settings(PRICED), data_dir, now=NOW)
    # 13 answers made one call of 100 + 20 tokens, one made none (costs nothing)
    assert priced["current"]["cost_per_answer"] == pytest.approx(13 * 140e-6 / 14)


def test_dashboard_page_is_self_contained_with_its_plots_and_unknown_cost(traffic):
    import re

    db, scores, data_dir, _ = traffic
    html = dashboard_page(build_dashboard(db, scores, parse_settings({}), data_dir, now=NOW))
    assert not re.search(r"<script|<link|\bsrc=|@import|\burl\((?!#)", html)
    for name in ("rates", "latency", "tokens", "cost", "strategies"):
        assert f'data-plot="{name}"' in html
    assert html.count("<svg") == 5
    assert "drift down" in html and ">unknown</span>" in html
    assert "faithfulness (grounding check): kappa" in html
