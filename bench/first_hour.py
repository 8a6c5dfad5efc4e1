"""The first hour on a new project: what `ragloop init` + `ragloop ingest` + `ragloop ask`
give with the defaults, next to the old default (the model generating alone, ``direct``).

A fresh project from ``ragloop init`` over ragloop's bundled docs; the 12 questions of the
demo golden set. For each question, side by side in one process (the model loaded once,
the call cache off so every answer is computed): the default answer (``auto``: the router
with the extractive floor) and ``strategy = direct``. Reported per policy: token F1 against
the reference, citation precision, refusals, what answered (and why, for ``auto``), and the
wall time of an answer (retrieval included). Then the wall time of one ``ragloop ask`` in a
new process, model load included, as a user first sees it.

    python -m bench.first_hour [--quick] [--repeat N]
"""

from __future__ import annotations

import statistics
import subprocess
import sys

from bench.harness import Bench, Timer, summary
from ragloop.evals.datasets import load_dataset
from ragloop.evals.metrics.stats import bootstrap_ci
from ragloop.evals.scoring import ScoringOptions, step_scores
from ragloop.pipeline import Pipeline
from ragloop.project import Project

POLICIES = {"default (auto)": {}, "direct (the old default)": {"strategy": "direct"}}
METRICS = ("token_f1", "citation_precision", "refused")


def main(argv=None) -> None:
    bench = Bench("first_hour", __doc__, argv)
    from ragloop.demo import demo_corpus_dir, demo_golden_path, resolve_golden

    root = bench.args.out / "project"
    if root.exists():
        import shutil

        shutil.rmtree(root)
    with bench.timed("init"):
        subprocess.run([sys.executable, "-m", "ragloop", "init", str(root)], check=True,
                       capture_output=True)
    docs = demo_corpus_dir()
    golden = resolve_golden(demo_golden_path(), docs, bench.args.out / "golden.jsonl")
    examples = load_dataset(golden)[:4 if bench.args.quick else None]
    records = []
    with Pipeline(Project.load(root), use_cache=False) as pipeline:
        with bench.timed("ingest"):
            report = pipeline.ingest([docs])
        pipeline.ask("warm-up: load the models")  # load time is measured apart, below
        for round_ in range(bench.args.repeat):
            for example in examples:
                retrieved = pipeline.retrieve(example.question, k=10)
                for policy, how in POLICIES.items():
                    with Timer() as timer:
                        answer = pipeline.ask(example.question, **how)
                    seconds = timer.seconds
                    scores, _ = step_scores(example, retrieved, answer, ScoringOptions())
                    records.append({
                        "round": round_, "id": example.id, "policy": policy,
                        "question": example.question, "reference": example.reference_answers[0],
                        "answer": answer.text, "strategy": answer.strategy,
                        "reason": answer.route.get("reason") or "",
                        "model_calls": len(answer.calls), "seconds": round(seconds, 3),
                        "scores": {m: scores[m] for m in METRICS if m in scores}})
                    print(f"{example.id:18} {policy:26} {answer.strategy:8} "
                          f"F1 {scores.get('token_f1', 0):.2f} {seconds:5.1f}s "
                          f"{answer.text[:70]!r}", flush=True)
    with bench.timed("cold_cli_ask"):
        cold = subprocess.run([sys.executable, "-m", "ragloop", "-p", str(root), "ask",
                               examples[0].question], capture_output=True, text=True)
    policies = {}
    for policy in POLICIES:
        mine = [r for r in records if r["policy"] == policy]
        row = {"n": len(mine), "seconds": summary([r["seconds"] for r in mine], 3),
               "model_calls_mean": round(statistics.fmean(r["model_calls"] for r in mine), 2),
               "strategies": {s: sum(r["strategy"] == s for r in mine)
                              for s in sorted({r["strategy"] for r in mine})}}
        for metric in METRICS:
            values = [r["scores"][metric] for r in mine if metric in r["scores"]]
            if values:
                _, low, high = bootstrap_ci(values, samples=2000, seed=0)
                row[metric] = {"mean": round(statistics.fmean(values), 3),
                               "ci95": [round(low, 3), round(high, 3)]}
        policies[policy] = row
    bench.write({
        "dataset": f"ragloop demo golden set ({len(examples)} questions), bundled docs",
        "project": "ragloop init defaults", "documents": report.counts(),
        "policies": policies,
        "cold_cli_ask_s": round(bench.phases["cold_cli_ask"], 2),
        "cold_cli_ask_ok": cold.returncode == 0,
        "records": records})


if __name__ == "__main__":
    main()
