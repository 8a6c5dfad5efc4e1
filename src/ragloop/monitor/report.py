"""The quality dashboard as one self-contained HTML page (inline CSS and SVG, nothing
fetched): ``ragloop monitor report`` writes it, the web page's Dashboard tab shows it.

Rates share a 0–1 axis with their 95% intervals as bands; latency, tokens and cost each
have an axis of their own in their unit.
"""

from __future__ import annotations

from html import escape

from matplotlib.figure import Figure

from ragloop.evals.report.html import fmt, page, plot, table
from ragloop.evals.report.plots import to_svg
from ragloop.monitor.dashboard import RATES

COLORS = {"thumbs_up": "#2e7d32", "faithful": "#3b6fb6", "grounded": "#7b4fb6",
          "judge_faithful": "#00838f", "judge_relevant": "#9e9d24", "refused": "#e07b39"}
LABELS = {"thumbs_up": "thumbs-up", "faithful": "faithful (likelihood judge)",
          "grounded": "grounded (grounding check)", "judge_faithful": "faithful (LLM judge)",
          "judge_relevant": "relevant (LLM judge)", "refused": "refusals"}


def _days(data: dict) -> tuple[list[str], list[dict]]:
    daily = data["daily"]
    return [d["day"][5:] for d in daily], daily  # MM-DD on the axis


def rates_plot(data: dict) -> str:
    labels, daily = _days(data)
    x = list(range(len(daily)))
    fig = Figure(figsize=(7.5, 3.2))
    ax = fig.add_subplot()
    for name in RATES:
        points = [(i, d["rates"][name]) for i, d in zip(x, daily, strict=True)
                  if d["rates"][name]["n"]]
        if not points:
            continue
        xs = [i for i, _ in points]
        ax.plot(xs, [r["rate"] for _, r in points], marker="o", color=COLORS[name],
                label=LABELS[name])
        ax.fill_between(xs, [r["low"] for _, r in points], [r["high"] for _, r in points],
                        color=COLORS[name], alpha=0.15)
    ax.set_ylim(0, 1)
    ax.set_xticks(x, labels=labels, rotation=45, fontsize=7)
    ax.set_ylabel("rate (95% interval)")
    ax.set_title("rates per day", fontsize=10)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="lower left")
    return to_svg(fig)


def _series_plot(data: dict, series: dict[str, str], ylabel: str, title: str) -> str:
    labels, daily = _days(data)
    x = list(range(len(daily)))
    fig = Figure(figsize=(7.5, 2.6))
    ax = fig.add_subplot()
    for key, label in series.items():
        points = [(i, d[key]) for i, d in zip(x, daily, strict=True) if d[key] is not None]
        if points:
            ax.plot([i for i, _ in points], [v for _, v in points], marker="o", label=label)
    ax.set_xticks(x, labels=labels, rotation=45, fontsize=7)
    ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return to_svg(fig)


def strategy_plot(data: dict) -> str:
    labels, daily = _days(data)
    x = list(range(len(daily)))
    names = sorted({s for d in daily for s in d["strategies"]})
    fig = Figure(figsize=(7.5, 2.6))
    ax = fig.add_subplot()
    bottom = [0] * len(daily)
    for name in names:
        counts = [d["strategies"].get(name, 0) for d in daily]
        ax.bar(x, counts, bottom=bottom, label=name)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_xticks(x, labels=labels, rotation=45, fontsize=7)
    ax.set_ylabel("answers")
    ax.set_title("strategy mix per day", fontsize=10)
    if names:
        ax.legend(fontsize=7)
    return to_svg(fig)


def _rate_cell(r: dict) -> str:
    if not r["n"]:
        return "–"
    return f"{fmt(r['rate'], 2)} [{fmt(r['low'], 2)}, {fmt(r['high'], 2)}] n={r['n']}"


def _cost(value: float | None, part: dict, currency: str) -> str:
    if value is None:
        return (f'<span class="bad">unknown</span> ({part["unpriced_answers"]} answers used '
                "a model without a price in [models] prices)" if part["answers"] else "–")
    return f"{value:.6f} {escape(currency)}"


def summary_table(data: dict) -> str:
    window = data["window_days"]
    current, previous, drift, kappa = (data["current"], data["previous"], data["drift"],
                                       data["kappa"])
    rows = []
    for name, meaning in data["legend"].items():
        flag = drift[name]
        mark = (f'<span class="bad drift">drift {flag}: outside the previous window\'s '
                "interval</span>" if flag else "")
        judge = kappa.get(name)
        agreement = ""
        if judge:
            cls = "good" if judge.get("calibrated") else "bad"
            agreement = (f'<span class="{cls} kappa">{escape(judge["judge"])}: '
                         f'{escape(judge["describe"])}</span>')
        rows.append([escape(LABELS[name]), _rate_cell(current["rates"][name]),
                     _rate_cell(previous["rates"][name]), mark, agreement, escape(meaning)])
    rows.append(["latency p50 / p95 (s)",
                 f"{fmt(current['latency_p50_s'], 2)} / {fmt(current['latency_p95_s'], 2)}",
                 f"{fmt(previous['latency_p50_s'], 2)} / {fmt(previous['latency_p95_s'], 2)}",
                 "", "", "the server's wall time per answer"])
    rows.append(["tokens per answer", fmt(current["tokens_per_answer"], 1),
                 fmt(previous["tokens_per_answer"], 1), "", "",
                 "prompt + completion tokens of every model call"])
    rows.append(["cost per answer", _cost(current["cost_per_answer"], current, data["currency"]),
                 _cost(previous["cost_per_answer"], previous, data["currency"]), "", "",
                 "from [models] prices per model id"])
    return table(["", f"last {window} days", f"previous {window} days", "drift",
                  "judge agreement (human labels)", "what it is"], rows, cls="summary")


def daily_table(data: dict) -> str:
    rows = []
    for d in data["daily"]:
        r = d["rates"]
        rows.append([escape(d["day"]), d["answers"], _rate_cell(r["thumbs_up"]),
                     _rate_cell(r["faithful"]), _rate_cell(r["grounded"]),
                     _rate_cell(r["refused"]),
                     escape(", ".join(f"{k} {v}" for k, v in d["strategies"].items())),
                     d["latency_p50_s"], d["latency_p95_s"], d["tokens_per_answer"],
                     _cost(d["cost_per_answer"], d, data["currency"])])
    return table(["day (UTC)", "answers", "thumbs-up", "faithful", "grounded", "refused",
                  "strategies", "p50 s", "p95 s", "tokens", "cost"], rows, cls="daily")


def dashboard_page(data: dict) -> str:
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(data["score_statuses"].items()))
    head = (f'<p class="ran">{data["from"]} to {data["to"]} (UTC days); '
            f'{sum(d["answers"] for d in data["daily"])} answers, {data["scored_answers"]} '
            f"scored online (checks: {escape(statuses) or 'none yet'}); judge model "
            f"{escape(data['judge_model'] or 'none yet')}.</p>")
    parts = [head, f"<h2>Last {data['window_days']} days against the {data['window_days']} "
                   "before</h2>", summary_table(data),
             "<h2>Over time</h2>",
             plot(rates_plot(data), "rates"),
             plot(_series_plot(data, {"latency_p50_s": "p50", "latency_p95_s": "p95"},
                               "seconds", "latency per answer"), "latency"),
             plot(_series_plot(data, {"tokens_per_answer": "tokens"}, "tokens",
                               "tokens per answer"), "tokens"),
             plot(_series_plot(data, {"cost_per_answer": "cost"}, data["currency"],
                               "cost per answer (priced days only)"), "cost"),
             plot(strategy_plot(data), "strategies"),
             "<h2>By day</h2>", daily_table(data)]
    return page("ragloop quality dashboard", "".join(parts))
