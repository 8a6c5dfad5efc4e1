"""Test-time compute: accuracy, latency and tokens of every answer strategy and of the router
at three budgets, measured side by side on the same questions in one run.

Datasets (fixed, stated subsets):
- PubMedQA (PQA-L official test split, the first ``--pubmedqa`` question ids in sorted
  order), answered over the GOLD abstract (its paragraphs are the numbered context chunks:
  no retrieval, so only answering is measured). Correct = the answer's yes/no/maybe label
  equals the gold decision.
- Arithmetic word problems from the seeded generator ``bench/arith_problems.py`` (seed 0):
  the facts are the one context chunk. Correct = the answer's last number equals the
  programmatic answer.

Policies: every strategy (direct = always-fast, vote = always-slow, cot, best_of_n, refine)
and ``auto`` at three token budgets, all with free-text ``inline`` citations: on the shared
CPU, grammar-constrained decoding is ~3x slower per token, and the run has to stay
affordable. ``direct-json`` is direct with the default schema-constrained format, to measure
which format makes the small model cite and what it costs. Decomposition is not run: neither
set is multi-hop.
Questions are interleaved and every policy runs on a question before the next question, so
machine load hits all policies alike.

Latency is the sum of the model calls' own latencies (``Answer.calls``). llama.cpp keeps the
KV state of the last prompt, so a policy run after another on the same question skips most
prompt processing (direct runs first and pays it; the router's escalation gets the same
benefit in production). ``--cold`` resets that state before every policy, for latencies of
each policy as a standalone query. Calls go through the
disk cache, so a call two policies share (the router's fast pass is the direct call; its vote
samples are the vote policy's) is made once and counted, at its measured latency, in both.
Records are appended to ``bench/results/ttc_records.jsonl`` as they finish (the run resumes;
the file is also input for ``ragloop route calibrate``). Writes ``bench/results/ttc.json``
and ``bench/results/ttc.png``; ``python -m bench.render`` puts the table in the docs.

    python -m bench.ttc [--pubmedqa 5] [--arith 8] [--samples 3] [--max-tokens 32] [--cold]
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import stats

from bench.arith_problems import generate
from bench.corpora import pubmedqa_data
from bench.harness import Bench, Timer, percentile
from ragloop.answer.answerer import Answerer
from ragloop.answer.normalize import final_number, label
from ragloop.config import AnswerSettings, LLMSettings
from ragloop.models.factory import build_llm
from ragloop.records import AnswerRequest, Budget, Candidate, Chunk

STRATEGIES = ("direct", "direct-json", "cot", "vote", "best_of_n", "refine")
BUDGETS = (500, 1200, 0)  # tokens per query for auto; 0 = no limit
SLOW = ("cot", "vote", "best_of_n", "refine")


class GoldContext:
    """A retriever that returns the example's own context chunks (gold-context reading)."""

    name = "gold"

    def __init__(self, chunks: list[Chunk]):
        self.chunks = chunks

    def search(self, query, k=10, filters=None):
        return [Candidate(chunk=c, score=1.0) for c in self.chunks[:k]]


def pubmedqa_examples(n: int) -> list[dict]:
    if n <= 0:
        return []
    data = pubmedqa_data() / "data"
    records = json.loads((data / "ori_pqal.json").read_text())
    gold = json.loads((data / "test_ground_truth.json").read_text())
    out = []
    for pmid in sorted(gold)[:n]:
        rec = records[pmid]
        chunks = [Chunk(id=f"{pmid}-{i}", doc_id=pmid, ordinal=i, text=text,
                        metadata={"source": f"pubmed:{pmid}", "title": lab.title()})
                  for i, (text, lab) in enumerate(zip(rec["CONTEXTS"], rec["LABELS"],
                                                      strict=False))]
        out.append({"dataset": "pubmedqa", "id": pmid, "gold": gold[pmid], "chunks": chunks,
                    "question": f"{rec['QUESTION']} Start your answer with yes, no or maybe."})
    return out


def arith_examples(n: int) -> list[dict]:
    return [{"dataset": "arithmetic", "id": p.id, "gold": str(p.answer),
             "question": p.question,
             "chunks": [Chunk(id=p.id, doc_id=p.id, ordinal=0, text=p.facts,
                              metadata={"source": f"generated:{p.id}", "title": "Problem"})]}
            for p in generate(n, seed=0)]


def is_correct(example: dict, text: str) -> bool:
    if example["dataset"] == "pubmedqa":
        return label(text) == example["gold"]
    return final_number(text) == example["gold"]


def run_policy(policy: str, example: dict, settings: AnswerSettings, llm) -> dict:
    retriever = GoldContext(example["chunks"])
    with Timer() as timer:
        if policy.startswith("auto@"):
            budget = Budget(max_tokens=int(policy.split("@")[1]))
            answer = Answerer(settings, retriever=retriever, llm=llm).answer(
                AnswerRequest(question=example["question"], mode="auto", budget=budget))
        elif policy == "direct-json":
            as_json = settings.model_copy(update={"citation_style": "json"})
            answer = Answerer(as_json, retriever=retriever, llm=llm).answer(
                AnswerRequest(question=example["question"], strategy="direct"))
        else:
            answer = Answerer(settings, retriever=retriever, llm=llm).answer(
                AnswerRequest(question=example["question"], strategy=policy))
    route = answer.metadata.get("router") or {}
    return {
        "dataset": example["dataset"], "id": example["id"], "policy": policy,
        "strategy": policy if not policy.startswith("auto@") else answer.strategy,
        "question": example["question"], "gold": example["gold"], "answer": answer.text,
        "correct": float(is_correct(example, answer.text)),
        "latency_s": sum(c.latency_s for c in answer.calls),
        "wall_s": timer.seconds,
        "tokens": answer.prompt_tokens + answer.completion_tokens,
        "calls": len(answer.calls), "cached_calls": sum(c.cached for c in answer.calls),
        "cited": bool(answer.citations), "refused": answer.refused,
        "invalid_markers": answer.metadata.get("invalid_markers", []),
        "escalated": route.get("escalated"), "route_reason": route.get("reason"),
        "signals": route.get("signals"),
        "context": [{"chunk_id": c.chunk.id, "doc_id": c.chunk.doc_id, "text": c.chunk.text}
                    for c in answer.candidates],
    }


def bootstrap_ci(values: list[float], seed: int = 0) -> tuple[float, float]:
    data = np.asarray(values, dtype=float)
    if len(data) < 2 or data.min() == data.max():
        return float(data.mean()), float(data.mean())
    res = stats.bootstrap((data,), np.mean, n_resamples=1000, method="percentile",
                          random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def summarise(records: list[dict], policies: list[str]) -> dict:
    summary: dict = {}
    for dataset in sorted({r["dataset"] for r in records}):
        rows = {}
        ids = None
        for policy in policies:  # only examples every policy finished are compared
            done = {r["id"] for r in records if r["dataset"] == dataset and
                    r["policy"] == policy}
            ids = done if ids is None else ids & done
        for policy in policies:
            sel = [r for r in records if r["dataset"] == dataset and r["policy"] == policy
                   and r["id"] in ids]
            if not sel:
                continue
            acc = [r["correct"] for r in sel]
            lat = [r["latency_s"] for r in sel]
            low, high = bootstrap_ci(acc)
            rows[policy] = {
                "n": len(sel), "accuracy": float(np.mean(acc)), "ci95": [low, high],
                "latency_mean_s": float(np.mean(lat)),
                "latency_p95_s": percentile(lat, 95),
                "tokens_per_query": float(np.mean([r["tokens"] for r in sel])),
                "calls_per_query": float(np.mean([r["calls"] for r in sel])),
                "cite_rate": float(np.mean([r["cited"] for r in sel])),
                "escalation_rate": (float(np.mean([bool(r["escalated"]) for r in sel]))
                                    if policy.startswith("auto@") else None)}
        summary[dataset] = rows
    return summary


def target_check(rows: dict) -> dict:
    """Auto ≥ 95% of the best slow strategy's accuracy at ≤ 50% of its mean latency."""
    slow = {p: r for p, r in rows.items() if p in SLOW}
    if not slow:
        return {}
    best = max(slow, key=lambda p: (slow[p]["accuracy"], -slow[p]["latency_mean_s"]))
    out = {"best_slow": best}
    for policy, r in rows.items():
        if policy.startswith("auto@"):
            acc_ratio = (r["accuracy"] / slow[best]["accuracy"]
                         if slow[best]["accuracy"] else float("nan"))
            lat_ratio = r["latency_mean_s"] / max(slow[best]["latency_mean_s"], 1e-9)
            out[policy] = {"accuracy_ratio": acc_ratio, "latency_ratio": lat_ratio,
                           "met": bool(acc_ratio >= 0.95 and lat_ratio <= 0.5)}
    return out


def table(summary: dict, checks: dict) -> str:
    lines = ["| dataset | policy | n | accuracy (95% CI) | mean latency s | p95 latency s "
             "| tokens/query | calls/query | cites |",
             "|---|---|---|---|---|---|---|---|---|"]
    for dataset, rows in summary.items():
        for policy, r in rows.items():
            name = policy.replace("auto@0", "auto (no budget)").replace("auto@", "auto ≤")
            if policy.startswith("auto@"):
                name += f" ({r['escalation_rate']:.0%} escalated)"
            lines.append(
                f"| {dataset} | {name} | {r['n']} | {r['accuracy']:.2f} "
                f"({r['ci95'][0]:.2f}–{r['ci95'][1]:.2f}) | {r['latency_mean_s']:.1f} | "
                f"{r['latency_p95_s']:.1f} | {r['tokens_per_query']:.0f} | "
                f"{r['calls_per_query']:.1f} | {r['cite_rate']:.0%} |")
    for dataset, check in checks.items():
        if not check:
            continue
        parts = [f"{p}: {c['accuracy_ratio']:.2f}× accuracy at {c['latency_ratio']:.2f}× "
                 f"latency ({'met' if c['met'] else 'not met'})"
                 for p, c in check.items() if p != "best_slow"]
        lines.append(f"\nTarget on {dataset} vs best slow strategy ({check['best_slow']}): "
                     + "; ".join(parts))
    return "\n".join(lines)


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summary), figsize=(6 * len(summary), 4.5), squeeze=False)
    for ax, (dataset, rows) in zip(axes[0], summary.items(), strict=True):
        for policy, r in rows.items():
            err = [[r["accuracy"] - r["ci95"][0]], [r["ci95"][1] - r["accuracy"]]]
            marker = "s" if policy.startswith("auto@") else "o"
            ax.errorbar(r["latency_mean_s"], r["accuracy"], yerr=err, fmt=marker, capsize=3)
            ax.annotate(policy, (r["latency_mean_s"], r["accuracy"]), fontsize=8,
                        xytext=(4, 4), textcoords="offset points")
        ax.set_title(f"{dataset} (n={next(iter(rows.values()))['n']})")
        ax.set_xlabel("mean latency per query (s)")
        ax.set_ylabel("accuracy (95% bootstrap CI)")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    fig.suptitle("Test-time compute: accuracy vs latency (SmolLM2-135M, CPU)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def options(parser) -> None:
    parser.add_argument("--pubmedqa", type=int, default=5)
    parser.add_argument("--arith", type=int, default=8)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--fresh", action="store_true", help="Discard earlier records.")
    parser.add_argument("--cold", action="store_true",
                        help="Reset the model's KV prefix before every policy (llamacpp).")
    parser.add_argument("--report-only", action="store_true",
                        help="Summarise the records so far without running anything.")


def main(argv=None) -> None:
    bench = Bench("ttc", __doc__, argv, extra=options,
                  quick_help="one question of each set")
    args = bench.args
    if args.quick:
        args.pubmedqa, args.arith = min(args.pubmedqa, 1), min(args.arith, 1)
    settings = AnswerSettings(samples=args.samples, max_tokens=args.max_tokens,
                              slow_strategy="vote", citation_style="inline")
    policies = [*STRATEGIES, *(f"auto@{b}" for b in BUDGETS)]
    records_path = bench.artifact("ttc_records.jsonl")
    records_path.parent.mkdir(parents=True, exist_ok=True)
    if args.fresh and records_path.exists():
        records_path.unlink()
    done = set()
    if records_path.exists():
        for line in records_path.read_text().splitlines():
            r = json.loads(line)
            done.add((r["dataset"], r["id"], r["policy"]))
    pub, ari = pubmedqa_examples(args.pubmedqa), arith_examples(args.arith)
    examples = [e for pair in zip(pub, ari, strict=False) for e in pair]
    examples += pub[len(ari):] + ari[len(pub):]
    if not args.report_only:
        from rich.progress import Progress

        llm = build_llm(LLMSettings(), cache_dir=args.out / "llm-cache")
        todo = [(e, p) for e in examples for p in policies
                if (e["dataset"], e["id"], p) not in done]
        with Progress() as progress, records_path.open("a") as out, bench.timed("policies"):
            task = progress.add_task("ttc", total=len(todo))
            for example, policy in todo:
                if args.cold:
                    llm.backend._model.reset()  # llama_cpp.Llama: forget the cached prefix
                record = run_policy(policy, example, settings, llm)
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                out.flush()
                progress.advance(task)
    records = [json.loads(line) for line in records_path.read_text().splitlines()]
    summary = summarise(records, policies)
    checks = {d: target_check(rows) for d, rows in summary.items()}
    print(table(summary, checks))
    bench.write({"summary": summary, "target": checks,
                 "settings": {"samples": args.samples, "max_tokens": args.max_tokens,
                              "budgets_tokens": BUDGETS, "cold": args.cold,
                              "model": "SmolLM2-135M-Instruct Q4_1",
                              "pubmedqa": f"first {args.pubmedqa} ids (sorted) of the official "
                                          "test split, gold abstract as context",
                              "arithmetic": f"{args.arith} generated problems, seed 0"}})
    plot(summary, bench.artifact("ttc.png"))


if __name__ == "__main__":
    main()
