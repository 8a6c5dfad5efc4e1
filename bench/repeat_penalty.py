"""Does llama.cpp's repeat penalty help the small default model answer? Side by side, one run.

    python -m bench.repeat_penalty [--values 1.0,1.1,1.2]

For each value: a fresh demo project (the bundled docs) answering in ``fast`` mode (the model,
not the router), the demo golden set (12 questions) answered by the default pipeline, scored
without judges (token F1, citation recall and precision, loops = answers with a 4-word
sequence repeated 3+ times). Writes bench/results/repeat_penalty.json.
"""

from __future__ import annotations

import json
import re

from bench.harness import Bench, demo_project
from ragloop.evals.runner import RunOptions, run_eval


def loops(text: str) -> bool:
    words = re.findall(r"\w+", text.lower())
    grams = [" ".join(words[i:i + 4]) for i in range(len(words) - 3)]
    return any(grams.count(g) >= 3 for g in set(grams))


def main(argv=None) -> None:
    bench = Bench("repeat_penalty", __doc__, argv, quick_help="one value, 2 questions",
                  extra=lambda p: p.add_argument("--values", default="1.0,1.1,1.2"))
    args = bench.args
    values = [float(v) for v in args.values.split(",")][:1 if args.quick else None]
    rows = []
    for value in values:
        root = args.out / f"penalty-{value}"
        if root.exists():  # a fresh project for every value
            import shutil

            shutil.rmtree(root)
        with bench.timed(f"penalty {value}"):
            pipeline, _, golden = demo_project(root, settings={
                "llm": {"repeat_penalty": value}, "answer": {"mode": "fast"}})
            run = run_eval(pipeline, golden, options=RunOptions(
                judge=False, report=False, limit=2 if args.quick else None))
        records = [json.loads(line) for line in (run.run_dir / "examples.jsonl").open()]
        metrics = run.aggregates["metrics"]
        rows.append({
            "repeat_penalty": value,
            "token_f1": round(metrics["token_f1"]["mean"], 3),
            "citation_recall": round(metrics["citation_recall"]["mean"], 3),
            "citation_precision": round(metrics.get("citation_precision", {"mean": 0})["mean"],
                                        3),
            "looping_answers": sum(loops(r["answer"]) for r in records),
            "n": len(records),
            "mean_latency_s": round(run.aggregates["latency_s"]["mean"], 2)})
    print(f"{'penalty':>8} {'token F1':>9} {'cit. recall':>12} {'cit. prec.':>11} "
          f"{'loops':>6} {'latency s':>10}")
    for r in rows:
        print(f"{r['repeat_penalty']:>8} {r['token_f1']:>9} {r['citation_recall']:>12} "
              f"{r['citation_precision']:>11} {r['looping_answers']:>4}/{r['n']:<2}"
              f"{r['mean_latency_s']:>9}")
    bench.write({"demo_golden_examples": rows[0]["n"] if rows else 0, "rows": rows})


if __name__ == "__main__":
    main()
