"""Direct generation vs the extract strategy vs the router (``auto``), side by side on the
demo golden set (12 hand-written questions over ragloop's bundled docs), with the default
embedded models.

Per policy: token F1 against the reference answer, citation precision and recall (does the
cited chunk support each answer sentence, ``evals.metrics.citations``), refusals, model
calls and answer latency (the model calls' own latency; the machine is shared, so these are
measured under contention unless stated). For the router: what it picked per question, and
why. Scoring is the eval runner's own (``evals.scoring.step_scores``).

Model calls go through the project's disk cache, so the router's fast pass is the direct
policy's call, made once.

    python -m bench.extract [--out /tmp/ragloop-bench-extract]

Writes ``bench/results/extract.json`` and prints the table.
"""

from __future__ import annotations

import statistics

from bench.harness import Bench, demo_project
from ragloop.evals.datasets import load_dataset
from ragloop.evals.scoring import ScoringOptions, step_scores

POLICIES = {"direct": {"strategy": "direct"}, "extract": {"strategy": "extract"},
            "auto": {"mode": "auto"}}
METRICS = ("token_f1", "citation_precision", "citation_recall", "refused")


def mean(values):
    return round(statistics.fmean(values), 3) if values else None


def main(argv=None) -> None:
    bench = Bench("extract", __doc__, argv, quick_help="the first 3 golden questions")
    with bench.timed("ingest"):
        pipeline, _, golden = demo_project(bench.args.out)
    examples = load_dataset(golden)[:3 if bench.args.quick else None]
    records = []
    for example in examples:
        retrieved = pipeline.retrieve(example.question, k=10)
        for policy, how in POLICIES.items():
            answer = pipeline.ask(example.question, **how)
            scores, _ = step_scores(example, retrieved, answer, ScoringOptions())
            route = answer.metadata.get("router") or {}
            records.append({
                "id": example.id, "policy": policy, "question": example.question,
                "reference": example.reference_answers[0], "answer": answer.text,
                "strategy": answer.strategy, "route_reason": route.get("reason"),
                "generated": route.get("generated"),
                "scores": {m: scores[m] for m in METRICS if m in scores},
                "calls": len(answer.calls),
                "latency_s": round(sum(c.latency_s for c in answer.calls), 3)})
            print(f"{example.id:18} {policy:8} {answer.strategy:8} "
                  f"F1 {scores.get('token_f1', 0):.2f}  {answer.text[:90]!r}", flush=True)
    summary = {}
    for policy in POLICIES:
        mine = [r for r in records if r["policy"] == policy]
        summary[policy] = {m: mean([r["scores"][m] for r in mine if m in r["scores"]])
                           for m in METRICS}
        summary[policy].update(
            n=len(mine), calls_per_question=mean([r["calls"] for r in mine]),
            model_latency_s=mean([r["latency_s"] for r in mine]))
    picks = {r["id"]: {"picked": r["strategy"], "reason": r["route_reason"]}
             for r in records if r["policy"] == "auto"}
    bench.write({"dataset": f"ragloop demo golden set ({len(examples)} questions)",
                 "model": pipeline.llm.model_id, "embedder": pipeline.embedder.model_id,
                 "summary": summary, "router_picks": picks, "records": records})
    print("\n| policy | token F1 | citation precision | citation recall | refused | "
          "calls/question | model latency (s) |\n|---|---|---|---|---|---|---|")
    for policy, s in summary.items():
        print(f"| {policy} | {s['token_f1']} | {s['citation_precision']} | "
              f"{s['citation_recall']} | {s['refused']} | {s['calls_per_question']} | "
              f"{s['model_latency_s']} |")
    print("\nrouter picks:")
    for qid, pick in picks.items():
        print(f"  {qid:18} {pick['picked']:8} {pick['reason']}")


if __name__ == "__main__":
    main()
