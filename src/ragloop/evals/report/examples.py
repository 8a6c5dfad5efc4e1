"""The examples behind a report's numbers, to read one by one: each question, answer,
citations, retrieved chunks and scores, with a filter ("token_f1 < 0.2 and tag:demo") and a
sort. A run lists its examples; a comparison lists the pairs side by side, the examples
whose scores changed first.

Filtering and sorting are a small inline script over data attributes: the page stays one
file that fetches nothing, and without scripts every example is still there, in order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape

from ragloop.evals.report import legend
from ragloop.records import EvalRecord

FILTER_HELP = ("e.g. token_f1 < 0.2 and hit@5 = 1 · tag:NAME · error · words of the "
               "question; clauses joined by 'and'")
PAIRED_HELP = ("B's scores by name, A's as a.NAME, the change as delta.NAME: "
               "delta.token_f1 < 0 · tag:NAME · error · words")


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    return "nan" if value != value else f"{value:.{digits}f}"


def _table(headers: list[str], rows: Iterable[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _data(record: EvalRecord, order: int, scores: dict[str, float], **extra) -> str:
    attrs = {"id": record.id, "order": str(order), "tags": " ".join(record.tags),
             "error": "1" if record.error else "0",
             "scores": json.dumps(scores, allow_nan=False, default=str), **extra}
    return " ".join(f'data-{k}="{escape(v, quote=True)}"' for k, v in attrs.items())


def _finite(scores: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in scores.items() if v == v and abs(v) != float("inf")}


def metric_names(records: Iterable[EvalRecord]) -> list[str]:
    names = {name for r in records for name in r.scores}
    return sorted(names, key=lambda n: (n.partition("@")[0], int(n.partition("@")[2])
                                        if n.partition("@")[2].isdigit() else 0))


def controls(sort_options: list[tuple[str, str]], *, help_text: str = FILTER_HELP) -> str:
    options = "".join(f'<option value="{escape(v, quote=True)}">{escape(label)}</option>'
                      for v, label in sort_options)
    return ('<div class="controls"><label>Filter <input id="ex-filter" size="40" '
            f'placeholder="{escape(help_text, quote=True)}"></label> '
            f'<label>Sort <select id="ex-sort">{options}</select></label> '
            '<span id="ex-count" role="status"></span> '
            '<span id="ex-problem" class="bad" role="alert"></span></div>')


def sort_options(names: list[str], *, prefix: str = "", first: list[tuple[str, str]] = ()
                 ) -> list[tuple[str, str]]:
    out = list(first)
    for name in names:
        out += [(f"{prefix}{name}:asc", f"{prefix}{name} ↑"),
                (f"{prefix}{name}:desc", f"{prefix}{name} ↓")]
    return out


def _citations(record: EvalRecord) -> str:
    names = {c.chunk_id: legend.document_name(c.title, c.source, c.doc_id)
             for c in (*record.retrieved, *record.context)}
    if not record.citations:
        return "<p>no citations</p>"
    return "<ul class=\"citations\">" + "".join(
        f"<li>[{c.marker}] {escape(names.get(c.chunk_id, c.doc_id))} "
        f"<code>{escape(c.chunk_id)}</code></li>" for c in record.citations) + "</ul>"


def summary_scores(scores: dict) -> str:
    """The scores on an example's collapsed line: good (>= 0.5) or bad at a glance."""
    return " · ".join(f'<span class="{"good" if v >= 0.5 else "bad"}">{escape(name)} '
                      f"{_fmt(v)}</span>" for name, v in legend.summary_scores(scores))


def example_body(r: EvalRecord) -> str:
    """Answer, citations, reference, retrieved chunks, prompt context and judges."""
    scores = ", ".join(f"{escape(k)} {_fmt(v)}" for k, v in sorted(r.scores.items()))
    gold = set(r.gold_chunk_ids) | set(r.gold_doc_ids)
    retrieved = _table(["#", "document — section", "place", "chunk", "score"], [
        [str(i), f'<span class="{"gold" if {c.chunk_id, c.doc_id} & gold else ""}">'
                 f"{escape(legend.document_name(c.title, c.source, c.doc_id))}</span>",
         escape(c.place), escape(c.chunk_id), _fmt(c.score, 3)]
        for i, c in enumerate(r.retrieved, 1)])
    context = "".join(f"<pre>[{i}] {escape(legend.document_name(c.title, c.source, c.chunk_id))}"
                      f":\n{escape(c.text[:1500])}</pre>" for i, c in enumerate(r.context, 1))
    named = {c.doc_id: legend.document_name("", c.source, c.doc_id)
             for c in (*r.retrieved, *r.context)}
    gold_line = (f"<p>gold: {escape(', '.join(named.get(g, g) for g in gold))}</p>"
                 if gold else "")
    judges = _table(["judge", "verdict", "reason / error", "prompt"], [
        [escape(name), escape(str(j.get("verdict"))),
         escape(j.get("error") or j.get("reason") or ""), escape(j.get("prompt_version", ""))]
        for name, j in r.judges.items()]) if r.judges else ""
    refs = "".join(f"<pre>{escape(x)}</pre>" for x in r.reference_answers)
    label = (f"<p>label: gold {escape(str(r.label))}, predicted "
             f"{escape(str(r.predicted_label))}</p>" if r.label else "")
    return (f"<p>{scores}</p><p class=\"strategy\">strategy {escape(r.strategy or '–')}"
            f"{', refused' if r.refused else ''}, {r.tokens.calls} model call(s)</p>"
            f"<h4>Answer</h4><pre>{escape(r.answer)}</pre>{label}"
            f"<h4>Citations</h4>{_citations(r)}"
            f"{'<h4>Reference</h4>' + refs if refs else ''}"
            f"<h4>Retrieved</h4>{gold_line}{retrieved}<h4>Context in the prompt</h4>{context}"
            f"{'<h4>Judges</h4>' + judges if judges else ''}")


def example_details(r: EvalRecord, order: int = 0) -> str:
    head = f"{escape(r.id)} — {escape(r.question[:120])}"
    data = _data(r, order, _finite(r.scores))
    if r.error:
        return (f'<details class="example" {data}><summary class="bad">{head} — error'
                f"</summary><pre>{escape(r.error)}</pre></details>")
    summary = summary_scores(r.scores)
    return (f'<details class="example" {data}><summary>{head}'
            f"{' — ' + summary if summary else ''}</summary>{example_body(r)}</details>")


def run_examples(records: list[EvalRecord]) -> str:
    """The run's examples section: controls, every example, the script."""
    names = metric_names(records)
    return (f"<h2>Examples ({len(records)})</h2>"
            + controls(sort_options(names, first=[("order", "dataset order")]))
            + '<div id="examples">'
            + "".join(example_details(r, i) for i, r in enumerate(records)) + "</div>"
            + f"<script>{SCRIPT}</script>")


# ----------------------------------------------------------------------------- paired


def changes(a: EvalRecord, b: EvalRecord) -> dict[str, float]:
    """Metric → B − A for the scores both examples have and that differ."""
    return {m: b.scores[m] - a.scores[m] for m in a.scores
            if m in b.scores and b.scores[m] != a.scores[m]}


def change_size(a: EvalRecord, b: EvalRecord) -> float:
    """How much an example changed: the largest |B − A| of a shared score; one that failed
    in one run only changed most of all (its scores are missing on that side)."""
    if bool(a.error) != bool(b.error):
        return float("inf")
    return max((abs(v) for v in changes(a, b).values()), default=0.0)


def _side(record: EvalRecord, run: str) -> str:
    if record.error:
        return f"<div><h4>{escape(run)}</h4><pre class=\"bad\">{escape(record.error)}</pre></div>"
    return f"<div><h4>{escape(run)}</h4>{example_body(record)}</div>"


def pair_details(a: EvalRecord, b: EvalRecord, order: int, run_a: str, run_b: str) -> str:
    changed = changes(a, b)
    scores = {**_finite(b.scores), **{f"a.{k}": v for k, v in _finite(a.scores).items()},
              **{f"delta.{k}": v for k, v in _finite(changed).items()}}
    biggest = change_size(a, b)
    shown = sorted(changed.items(), key=lambda kv: -abs(kv[1]))[:4]
    line = " · ".join(f'<span class="{"good" if d > 0 else "bad"}">{escape(m)} '
                      f"{_fmt(a.scores[m])} → {_fmt(b.scores[m])}</span>" for m, d in shown)
    if bool(a.error) != bool(b.error):
        line = ('<span class="bad">failed in B</span>' if b.error else
                '<span class="good">fixed in B</span>')
    head = (f"{escape(b.id)} — {escape(b.question[:120])} — "
            + (line if biggest else '<span class="same">unchanged</span>'))
    size = "Infinity" if biggest == float("inf") else f"{biggest:.6f}"  # JS Number() reads it
    data = _data(b, order, scores, changed=size, error="1" if a.error or b.error
                 else "0")
    return (f'<details class="example pair" {data}><summary>{head}</summary>'
            f'<div class="sides">{_side(a, "A " + run_a)}{_side(b, "B " + run_b)}</div>'
            "</details>")


def compare_examples(pairs: list[tuple[EvalRecord, EvalRecord]], run_a: str, run_b: str
                     ) -> str:
    """Both runs' answers to each example side by side, the changed ones first."""
    order = sorted(range(len(pairs)), key=lambda i: -change_size(*pairs[i]))
    names = metric_names([r for pair in pairs for r in pair])
    n_changed = sum(1 for a, b in pairs if change_size(a, b))
    options = [("changed", "most changed first"), ("order", "dataset order")]
    options = sort_options(names, first=options) + sort_options(names, prefix="delta.")
    return (f"<h2>Examples side by side ({len(pairs)} paired, {n_changed} changed)</h2>"
            + controls(options, help_text=PAIRED_HELP) + '<div id="examples">'
            + "".join(pair_details(*pairs[i], i, run_a, run_b) for i in order) + "</div>"
            + f"<script>{SCRIPT}</script>")


SCRIPT = r"""
(function () {
  "use strict";
  const box = document.getElementById("examples");
  const filter = document.getElementById("ex-filter");
  const sort = document.getElementById("ex-sort");
  if (!box || !filter || !sort) return;
  const items = Array.from(box.children).map((el) => ({
    el, id: el.dataset.id || "", order: Number(el.dataset.order || 0),
    tags: (el.dataset.tags || "").split(" ").filter(Boolean),
    scores: JSON.parse(el.dataset.scores || "{}"), error: el.dataset.error === "1",
    changed: Number(el.dataset.changed || 0),
    text: el.querySelector("summary").textContent.toLowerCase(),
  }));
  const near = (a, b) => Math.abs(a - b) < 1e-9;
  const OPS = { "<": (a, b) => a < b, "<=": (a, b) => a <= b || near(a, b),
    ">": (a, b) => a > b, ">=": (a, b) => a >= b || near(a, b), "=": near, "==": near,
    "!=": (a, b) => !near(a, b) };
  const COMPARISON = /^([\w@.:-]+)\s*(<=|>=|==|!=|<|>|=)\s*(-?\d+(?:\.\d+)?|-?\.\d+)$/;

  function parse(text) {
    const tests = [], problems = [];
    for (const raw of text.split(/\s+and\s+|[,;]/i)) {
      const part = raw.trim();
      if (!part) continue;
      const cmp = part.match(COMPARISON);
      const tag = part.match(/^tag:(\S+)$/i);
      if (cmp) {
        const [, name, op, number] = cmp, value = Number(number);
        tests.push((d) => name in d.scores && OPS[op](d.scores[name], value));
      } else if (tag) {
        tests.push((d) => d.tags.includes(tag[1]));
      } else if (/^(error|failed)$/i.test(part)) {
        tests.push((d) => d.error);
      } else if (/[<>=]/.test(part)) {
        problems.push(part);
      } else {
        const needle = part.toLowerCase();
        tests.push((d) => d.text.includes(needle) || d.id.toLowerCase().includes(needle));
      }
    }
    return { tests, problems };
  }

  function compare(choice) {
    if (choice === "order") return (x, y) => x.order - y.order;
    if (choice === "changed") {
      return (x, y) => (y.changed === x.changed ? 0 : y.changed - x.changed) || x.order - y.order;
    }
    const cut = choice.lastIndexOf(":"), name = choice.slice(0, cut);
    const sign = choice.slice(cut + 1) === "desc" ? -1 : 1;
    return (x, y) => {
      const a = x.scores[name], b = y.scores[name];
      if (a === undefined || b === undefined) return (a === undefined) - (b === undefined);
      return sign * (a - b) || x.order - y.order;
    };
  }

  function apply() {
    const { tests, problems } = parse(filter.value);
    document.getElementById("ex-problem").textContent =
      problems.length ? "not understood: " + problems.join(", ") : "";
    let shown = 0;
    for (const item of [...items].sort(compare(sort.value))) {
      item.el.hidden = !tests.every((test) => test(item));
      shown += !item.el.hidden;
      box.appendChild(item.el);
    }
    document.getElementById("ex-count").textContent = `${shown} of ${items.length} shown`;
  }
  filter.addEventListener("input", apply);
  sort.addEventListener("change", apply);
  apply();
})();
"""
