"""Self-contained HTML for a run and for a comparison: inline CSS, SVG and one inline script
(the examples' filter and sort), no external URLs, so the file can be mailed, archived in
CI or opened offline."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from html import escape

from ragloop.evals.judge_agreement import MIN_KAPPA, agreement_for_metric, agreements_of_run
from ragloop.evals.likelihood import GAIN_METRIC
from ragloop.evals.report import legend, plots
from ragloop.evals.report.examples import (  # noqa: F401 - example_details: the report API
    compare_examples,
    example_details,
    run_examples,
    summary_scores,
)
from ragloop.records import EvalRecord

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#f4f6f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.meta td:first-child{color:#555}.bad{color:#b00020}.good{color:#146c2e}
details{border:1px solid #e2e2e2;border-radius:4px;margin:.3rem 0;padding:.3rem .6rem}
summary{cursor:pointer}pre{white-space:pre-wrap;background:#f7f7f7;padding:.4rem;margin:.2rem 0}
.plot svg{max-width:100%;height:auto}.gold{background:#e8f5e9}
.controls{display:flex;gap:1rem;align-items:center;flex-wrap:wrap;margin:.5rem 0}
.controls input,.controls select{font:inherit;padding:.2rem .4rem}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:1rem}.sides>div{min-width:0}
.same{color:#777}.ran{background:#f4f6f8;padding:.4rem .6rem;border-radius:4px}
"""

STEPS = (("Retrieval", ("hit@", "recall@", "mrr@", "ndcg@")),
         ("Context selection", ("context_",)),
         ("Generation", ("exact_match", "token_f1", "label_accuracy", "citation_", "refused")),
         ("Judges", ("judge_", GAIN_METRIC)))


def metric_key(metric: str) -> tuple:
    """hit@5 before hit@10: the cut-off sorts as a number."""
    name, _, k = metric.partition("@")
    return (name, int(k) if k.isdigit() else 0)


def step_of(metric: str) -> str:
    for step, prefixes in STEPS:
        if metric.startswith(prefixes):
            return step
    return "Other"


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "nan" if value != value else f"{value:.{digits}f}"
    return escape(str(value))


def table(headers: list[str], rows: Iterable[Iterable], *, cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    head = f"<thead><tr>{head}</tr></thead>" if any(headers) else ""
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{fmt(c)}</td>' if isinstance(c, int | float)
                         and not isinstance(c, bool) else f"<td>{c}</td>" for c in row)
        + "</tr>" for row in rows)
    return f'<table class="{cls}">{head}<tbody>{body}</tbody></table>'


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>"
            f"<body><h1>{escape(title)}</h1>{body}</body></html>")


def plot(svg: str, name: str) -> str:
    return f'<div class="plot" data-plot="{escape(name)}">{svg}</div>'


# ----------------------------------------------------------------------------- run report


def what_ran(run) -> str:
    """The header line that says how the answers were made: the configured mode and
    strategy, the strategies that answered, and whether answering called a model at all."""
    answer = (run.config or {}).get("answer", {})
    ok = [r for r in run.records if r.ok]
    used = Counter(r.strategy for r in ok if r.strategy)
    calls = sum(r.tokens.calls for r in ok)
    cached = sum(r.tokens.cached_calls for r in ok)
    mode = answer.get("mode", "?")
    configured = (f"mode {mode}" + (f", strategy {answer.get('strategy')}" if mode != "auto"
                                    else " (the router picks per question)"))
    answered = ", ".join(f"{name} {n}" for name, n in used.most_common()) or "none"
    if not ok:
        calls_text = "no example was answered"
    elif calls == 0:
        calls_text = ("no model call was made: every answer came from the retrieved text "
                      "alone")
    else:
        calls_text = f"{calls} model calls to answer ({cached} from the cache)"
    return (f'<p class="ran">Answers: {escape(configured)}; answered by {escape(answered)}; '
            f"{escape(calls_text)}.</p>")


def run_page(run) -> str:
    m, agg = run.manifest, run.aggregates
    model = m.model or {}
    meta = table(["", ""], [
        ["dataset", escape(str(m.dataset))],
        ["created", escape(str(m.created))],
        ["examples", f"{agg.get('n_examples', 0)} ({agg.get('n_errors', 0)} failed)"],
        ["model", escape(f"{model.get('model')} sha256 {str(model.get('sha256', '–'))[:16]}")],
        ["judge", escape(f"{m.judge_model or 'off'} (prompts "
                         f"{m.judge_prompt_version}, {agg.get('judge_errors', 0)} "
                         "unparseable)")],
        ["config hash", escape(m.config_hash[:16])],
        ["latency / example", escape(", ".join(f"{k} {v:.2f}s" for k, v in
                                               agg.get("latency_s", {}).items()))],
        ["tokens", escape(", ".join(f"{k} {v}" for k, v in agg.get("tokens", {}).items()))],
    ], cls="meta")
    agreements = agreements_of_run(m)
    parts = [what_ran(run), meta, "<h2>Metrics (mean, 95% bootstrap interval)</h2>",
             metrics_table(agg, agreements)]
    if any(step_of(name) == "Judges" for name in agg.get("metrics", {})):
        parts.append(judge_note(agreements))
    if "labels" in agg:
        parts.append(labels_section(agg["labels"]))
    parts.append(tags_section(run.records))
    parts.append("<h2>Plots</h2>" + run_plots(run))
    parts.append(run_examples(run.records))
    return page(f"ragloop eval run {run.name}", "".join(parts))


def tags_section(records: list[EvalRecord]) -> str:
    """Examples grouped by tag: per tag, how many and each metric's mean over them (an
    example with several tags counts in each). Empty when no example has a tag."""
    by_tag: dict[str, list[EvalRecord]] = {}
    for record in records:
        for tag in record.tags:
            by_tag.setdefault(tag, []).append(record)
    if not by_tag:
        return ""
    names = sorted({n for r in records if r.ok for n in r.scores}, key=lambda n: (
        step_order(n), metric_key(n)))
    rows = []
    for tag, group in sorted(by_tag.items()):
        ok = [r for r in group if r.ok]
        means = []
        for name in names:
            values = [r.scores[name] for r in ok if name in r.scores]
            means.append(sum(values) / len(values) if values else None)
        rows.append([escape(tag), len(group), len(group) - len(ok), *means])
    return ("<h2>By tag</h2><p>Each tag's examples (filter them below with tag:NAME); "
            "means over the examples that have the metric.</p>"
            + table(["tag", "examples", "failed", *names], rows, cls="tags"))


def step_order(metric: str) -> int:
    return [step for step, _ in (*STEPS, ("Other", ()))].index(step_of(metric))


def agreement_cell(metric: str, agreements: dict) -> str:
    """Beside a judge metric: its judge's agreement with human labels, flagged when below
    ``MIN_KAPPA`` or unknown; empty for other metrics."""
    agreement = agreement_for_metric(metric, agreements)
    if agreement is None:
        return ""
    cls = "good" if agreement.calibrated else "bad"
    return f'<span class="{cls} agreement">{escape(agreement.describe())}</span>'


def judge_note(agreements: dict) -> str:
    flagged = sorted(name for name, a in agreements.items() if not a.calibrated)
    text = (f"Judge agreement is Cohen's kappa against human labels (ragloop eval calibrate); "
            f"a judge below {MIN_KAPPA} is flagged uncalibrated and its scores are not "
            "evidence of answer quality.")
    if flagged or not agreements:
        text += (" Uncalibrated here: " + ", ".join(flagged) + "." if flagged else
                 " This run recorded no calibration for its judges.")
    return f'<p class="judge-note">{escape(text)}</p>'


def metrics_table(agg: dict, agreements: dict | None = None) -> str:
    """One row per metric, with what it measures, its unit when it is not a rate, and —
    beside a judge metric — that judge's own agreement with human labels. Metrics are never
    merged: two judges can score the same mean and still differ in what they are worth."""
    rows = []
    metrics = agg.get("metrics", {})
    agreements = agreements or {}
    for step, _ in (*STEPS, ("Other", ())):
        for name in sorted((n for n in metrics if step_of(n) == step), key=metric_key):
            v = metrics[name]
            rows.append([escape(step), escape(name), v["mean"],
                         f"[{fmt(v['low'])}, {fmt(v['high'])}]", v["n"],
                         escape(legend.unit(name) or "rate"), escape(legend.meaning(name)),
                         agreement_cell(name, agreements)])
    return table(["step", "metric", "mean", "95% CI", "n", "unit", "what it measures",
                  "judge agreement (human labels)"], rows, cls="metrics")


def labels_section(labels: dict) -> str:
    rows = [[escape(k), v["precision"], v["recall"], v["f1"], v["support"], v["predicted"]]
            for k, v in labels["per_label"].items()]
    dist = ", ".join(f"{escape(k)}: {v}" for k, v in
                     sorted(labels["prediction_distribution"].items()))
    return ("<h2>Labels</h2>"
            f"<p>accuracy {fmt(labels['accuracy'])}, macro-F1 {fmt(labels['macro_f1'])} over "
            f"{labels['n']} examples; predictions: {dist}</p>"
            + table(["label", "precision", "recall", "F1", "gold", "predicted"], rows,
                    cls="labels"))


def run_plots(run) -> str:
    """Rates on a 0–1 axis; every metric that is not a rate on an axis of its own, in its
    unit, so one unbounded score never squashes the rates."""
    metrics = run.aggregates.get("metrics", {})
    out = []
    names = sorted(metrics, key=lambda n: (step_order(n), metric_key(n)))
    rates = [n for n in names if legend.is_rate(n)]
    if rates:
        out.append(plot(plots.metric_bars(rates, [metrics[n]["mean"] for n in rates],
                                          [metrics[n]["low"] for n in rates],
                                          [metrics[n]["high"] for n in rates],
                                          "rates: mean with 95% interval"), "metrics"))
    for name in names:
        if not legend.is_rate(name):
            v = metrics[name]
            out.append(plot(plots.metric_bars([name], [v["mean"]], [v["low"]], [v["high"]],
                                              f"{name}: mean with 95% interval",
                                              xlabel=legend.unit(name), bounded=False),
                            f"metric-{name}"))
    ok = [r for r in run.records if r.ok]
    series = {n: [r.scores[n] for r in ok if n in r.scores] for n in names}
    # binary metrics are fully described by their mean; plot the graded ones
    series = {n: v for n, v in series.items() if v and not set(v) <= {0.0, 1.0}}
    series = dict(list(series.items())[:9])
    if series:
        out.append(plot(plots.distributions(series, "per-example score distributions",
                                            bounded={n: legend.is_rate(n) for n in series}),
                        "distributions"))
    latencies = [r.latency.total_s for r in run.records if r.ok]
    if latencies:
        out.append(plot(plots.histogram(latencies, "latency per example", "seconds"),
                        "latency"))
    return "".join(out)


# ----------------------------------------------------------------------------- comparison


def compare_page(comparison, a, b) -> str:
    agreements = agreements_of_run(b.manifest)
    rows = [[escape(d.metric), d.a, d.b,
             f'<span class="{"bad" if d.high < 0 else "good" if d.low > 0 else ""}">'
             f"{d.delta:+.3f}</span>", f"[{d.low:+.3f}, {d.high:+.3f}]", d.n,
             agreement_cell(d.metric, agreements)]
            for d in comparison.deltas]
    parts = [f"<p>A = {escape(a.name)}, B = {escape(b.name)}; deltas are B − A over the "
             "examples scored in both, with paired bootstrap 95% intervals.</p>",
             "<h2>Metrics</h2>",
             table(["metric", "A", "B", "delta", "95% CI", "n",
                    "judge agreement (run B)"], rows, cls="metrics")]
    if comparison.deltas:
        parts.append(plot(plots.comparison_bars([d.metric for d in comparison.deltas],
                                                [d.a for d in comparison.deltas],
                                                [d.b for d in comparison.deltas],
                                                f"A {a.name}", f"B {b.name}"), "comparison"))
    if comparison.gates:
        verdict = "passed" if comparison.passed else "FAILED"
        rate = (f" (pass rate {comparison.pass_rate:.2f} over {comparison.repeats} judge "
                "repeats)" if comparison.repeats else "")
        parts.append(f"<h2>Gates: {verdict}{escape(rate)}</h2>" + table(
            ["gate", "result", "warning"],
            [[escape(f"{g.gate.kind} {g.gate.metric}={g.gate.threshold}"),
              f'<span class="{"good" if g.passed else "bad"}">{escape(g.message)}</span>',
              f'<span class="bad warning">{escape(g.warning)}</span>' if g.warning else ""]
             for g in comparison.gates]))
    parts.append(f"<h2>Flipped examples ({len(comparison.flips)})</h2>" + table(
        ["example", "metric", "A", "B", "question"],
        [[escape(f.id), escape(f.metric), f.a, f.b, escape(f.question[:140])]
         for f in comparison.flips], cls="flips"))
    by_id = {r.id: r for r in a.records}
    parts.append(compare_examples([(by_id[r.id], r) for r in b.records if r.id in by_id],
                                  a.name, b.name))
    return page(f"ragloop eval compare {a.name} → {b.name}", "".join(parts))
