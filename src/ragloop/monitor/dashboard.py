"""The quality dashboard's numbers: live traffic by UTC day and over two windows.

Per day: answers, thumbs-up rate (of rated answers), the online faithfulness and grounding
rates (of scored answers), refusal rate — each with a 95% Wilson interval — the strategy
mix, latency p50/p95 (the server's wall time), tokens and cost per answer. Over the last
``[monitor] drift_window_days`` against the window before: a rate outside the previous
window's interval is flagged as drift. Beside each judged rate, its judge's kappa against
human labels (the project's calibration, else the shipped one) for the judge model that
scored it.

Cost comes from ``[models] prices`` per model id and the tokens each call of the trace
spent; an answer that used a model without a price has an unknown cost (never zero), one
that called no model costs nothing.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np

from ragloop.evals.calibrate import GROUNDING_JUDGE
from ragloop.evals.judge_agreement import agreement_of_any_model, find_agreements
from ragloop.evals.likelihood import LIKELIHOOD_JUDGE, VERDICT_METRIC
from ragloop.evals.metrics.stats import wilson_interval
from ragloop.feedback.db import Database
from ragloop.feedback.scores import ScoreStore
from ragloop.feedback.window import feedback_of, traces_between
from ragloop.monitor.checks import GROUNDED
from ragloop.records import Feedback, OnlineScore, Trace

# rate name → (what it is, the online score it counts, the judge whose kappa applies)
RATES = {
    "thumbs_up": ("share of rated answers rated up by users", None, None),
    "faithful": ("online faithfulness: answers the likelihood judge finds supported by "
                 "their context", VERDICT_METRIC, LIKELIHOOD_JUDGE),
    "grounded": ("answers that pass the grounding check (cite a chunk that holds most of "
                 "their words)", GROUNDED, GROUNDING_JUDGE),
    "judge_faithful": ("answers the LLM faithfulness judge calls faithful (sampled at "
                       "[monitor] judge_rate)", "judge_faithfulness", "faithfulness"),
    "judge_relevant": ("answers the LLM relevancy judge calls relevant (sampled at "
                       "[monitor] judge_rate)", "judge_relevancy", "relevancy"),
    "refused": ("answers that are refusals", None, None),
}


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def _rate(k: int, n: int) -> dict:
    rate, low, high = wilson_interval(k, n)
    clean = _clean
    return {"k": k, "n": n, "rate": clean(rate), "low": clean(low), "high": clean(high)}


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 4) if values else None


def latest_rating(feedback: tuple[Feedback, ...]) -> str | None:
    rated = [f.rating for f in feedback if f.rating]
    return rated[-1] if rated else None


def trace_cost(trace: Trace, prices: dict) -> float | None:
    """What the trace's model calls cost by ``prices`` (model id → per-million input and
    output); None when a model it called has no price."""
    total = 0.0
    for span in trace.spans:
        model = span.attributes.get("gen_ai.request.model")
        if model is None:
            continue
        price = prices.get(model)
        if price is None:
            return None
        total += (span.attributes.get("gen_ai.usage.input_tokens", 0) * price.input
                  + span.attributes.get("gen_ai.usage.output_tokens", 0) * price.output) / 1e6
    return total


def _verdict(scores: dict[str, OnlineScore], metric: str) -> float | None:
    score = scores.get(metric)
    return score.value if score is not None and score.status == "ok" else None


def summarize(traces: list[Trace], feedback: dict[str, tuple[Feedback, ...]],
              scores: dict[str, dict[str, OnlineScore]], prices: dict) -> dict:
    """The figures of one bucket of traces (a day, a window)."""
    counts = {name: [0, 0] for name in RATES}  # [k, n]
    costs, unpriced, tokens, latency = [], 0, [], []
    strategies: Counter = Counter()
    for trace in traces:
        mine = scores.get(trace.id, {})
        rating = latest_rating(feedback.get(trace.id, ()))
        if rating:
            counts["thumbs_up"][0] += rating == "up"
            counts["thumbs_up"][1] += 1
        for name, (_, metric, _) in RATES.items():
            if metric is not None and (value := _verdict(mine, metric)) is not None:
                counts[name][0] += value == 1.0
                counts[name][1] += 1
        counts["refused"][0] += bool(trace.metadata.get("refused"))
        counts["refused"][1] += 1
        strategies[trace.strategy] += 1
        if "wall_s" in trace.metadata:
            latency.append(float(trace.metadata["wall_s"]))
        tokens.append(trace.metadata.get("gen_ai.usage.input_tokens", 0)
                      + trace.metadata.get("gen_ai.usage.output_tokens", 0))
        cost = trace_cost(trace, prices)
        if cost is None:
            unpriced += 1
        else:
            costs.append(cost)
    return {"answers": len(traces),
            "rates": {name: _rate(k, n) for name, (k, n) in counts.items()},
            "strategies": dict(strategies.most_common()),
            "latency_p50_s": _percentile(latency, 50), "latency_p95_s": _percentile(latency, 95),
            "tokens_per_answer": round(sum(tokens) / len(tokens), 1) if tokens else None,
            # mean over the priced answers; unknown (None) when any answer is unpriced
            "cost_per_answer": (sum(costs) / len(costs)) if costs and not unpriced else None,
            "priced_answers": len(costs), "unpriced_answers": unpriced}


def drift(current: dict, previous: dict) -> dict[str, str | None]:
    """Per rate: "up"/"down" when the current rate is outside the previous window's
    interval, None otherwise (or when either window has no data)."""
    out = {}
    for name in RATES:
        now, before = current["rates"][name], previous["rates"][name]
        if now["rate"] is None or before["rate"] is None:
            out[name] = None
        elif now["rate"] < before["low"]:
            out[name] = "down"
        elif now["rate"] > before["high"]:
            out[name] = "up"
        else:
            out[name] = None
    return out


def judge_model(scores: dict[str, dict[str, OnlineScore]]) -> str | None:
    """The judge model most of the model-made scores came from."""
    models = Counter(s.model for per in scores.values() for s in per.values() if s.model)
    return models.most_common(1)[0][0] if models else None


def kappas(data_dir, model: str | None, version: str) -> dict[str, dict]:
    """Rate name → its judge's agreement with human labels, for ``model``; the grounding
    check calls no model, so its agreement is known before any judge model has scored."""
    judged = {name: judge for name, (_, _, judge) in RATES.items() if judge}
    found = (find_agreements(data_dir, model, version, tuple(judged.values()))
             if model is not None else {})
    found[GROUNDING_JUDGE] = (found.get(GROUNDING_JUDGE) if model is not None and
                              found[GROUNDING_JUDGE].kappa is not None else
                              agreement_of_any_model(data_dir, version, GROUNDING_JUDGE))
    out = {}
    for name, judge in judged.items():
        agreement = found.get(judge)
        if agreement is None:
            out[name] = {"judge": judge, "kappa": None, "describe": "no judge model has "
                         "scored yet"}
            continue
        kappa = None if agreement.kappa is None else _clean(agreement.kappa)  # JSON: no nan
        out[name] = {"judge": judge, "kappa": kappa, "n": agreement.n,
                     "source": agreement.source, "calibrated": agreement.calibrated,
                     "describe": agreement.describe()}
    return out


def build_dashboard(db: Database, scores: ScoreStore, settings, data_dir, *,
                    days: int | None = None, now: datetime | None = None) -> dict:
    """The dashboard over the last ``days`` UTC days (default: two drift windows)."""
    window = settings.monitor.drift_window_days
    days = days or 2 * window
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = today + timedelta(days=1)
    start = min(end - timedelta(days=days), end - timedelta(days=2 * window))
    traces = list(traces_between(db, start, end))
    ids = [t.id for t in traces]
    feedback, per_trace = feedback_of(db, ids), scores.for_traces(ids)
    prices = settings.models.prices

    def part(chosen: list[Trace]) -> dict:
        return summarize(chosen, feedback, per_trace, prices)

    def day_of(trace: Trace) -> str:
        return trace.created.astimezone(UTC).date().isoformat()

    shown_from = end - timedelta(days=days)
    by_day: dict[str, list[Trace]] = {(shown_from + timedelta(days=i)).date().isoformat(): []
                                      for i in range(days)}  # quiet days too: gaps show
    for trace in traces:
        if trace.created >= shown_from:
            by_day[day_of(trace)].append(trace)
    split = end - timedelta(days=window)
    current = part([t for t in traces if t.created >= split])
    previous = part([t for t in traces if split - timedelta(days=window) <= t.created < split])
    model = judge_model(per_trace)
    statuses = Counter(s.status for per in per_trace.values() for s in per.values())
    return {
        "generated": now.isoformat(), "days": days, "window_days": window,
        "from": shown_from.date().isoformat(), "to": today.date().isoformat(),
        "currency": settings.models.currency, "judge_model": model,
        "legend": {name: meaning for name, (meaning, _, _) in RATES.items()},
        "daily": [{"day": day, **part(chosen)} for day, chosen in sorted(by_day.items())],
        "current": current, "previous": previous, "drift": drift(current, previous),
        "kappa": kappas(data_dir, model, settings.eval.judge_prompt_version),
        "scored_answers": len(per_trace), "score_statuses": dict(statuses),
    }
