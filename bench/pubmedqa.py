"""PubMedQA (PQA-L, official 500-question test split) end to end with the default pipeline.

1. The pooled corpus (every record's CONTEXTS, one document per PMID, 1,000 documents) is
   ingested into a project (``--workdir``, kept between runs so ingestion happens once).
2. Retrieval: every test question is searched (``pipeline.retrieve``); hit@5 / recall@5 /
   MRR@10 / nDCG@10 for the question's own abstract, with bootstrap 95% intervals.
3. Answering: ``ragloop eval run`` machinery (``run_eval``) on ``--limit`` test questions
   (a seeded sample stratified by label), asked with a label instruction (yes / no /
   maybe); accuracy with interval, macro-F1, per-label precision/recall, the prediction
   distribution, latency, tokens.
4. Reader only (``--gold N``): the LLM given the gold abstract and asked for one label with a
   schema-constrained enum, on a stratified sample of N questions — what the model can do
   with perfect retrieval.
Every accuracy is shown next to the majority-class baseline (always "yes") on the same
questions. Writes ``bench/results/pubmedqa.json`` and prints a Markdown table.

    python bench/pubmedqa.py [--limit 100] [--gold 100] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from ragloop.errors import ModelError  # noqa: E402
from ragloop.evals.datasets import write_dataset  # noqa: E402
from ragloop.evals.import_pubmedqa import (  # noqa: E402
    LABELS,
    iter_pubmedqa_examples,
    load_records,
    write_pubmedqa_corpus,
)
from ragloop.evals.metrics.answer import label_scores  # noqa: E402
from ragloop.evals.metrics.retrieval import retrieval_scores  # noqa: E402
from ragloop.evals.metrics.stats import bootstrap_ci  # noqa: E402
from ragloop.evals.runner import RunOptions, run_eval  # noqa: E402
from ragloop.pipeline import Pipeline  # noqa: E402
from ragloop.project import Project  # noqa: E402

DATA = REPO.parent / "shared" / "datasets" / "pubmedqa"
OUT = REPO / "bench" / "results" / "pubmedqa.json"
GOLD_SCHEMA = {"type": "object", "properties": {"answer": {"type": "string",
                                                           "enum": list(LABELS)}},
               "required": ["answer"]}


def stratified_subset(examples, n: int, seed: int = 0) -> list:
    """``n`` examples with the split's label proportions (largest remainder), drawn with a
    fixed seed, in the official order. The official file is not shuffled by label (its first
    30 questions are all "yes"), so its first N would hide every other label."""
    import random

    if n >= len(examples):
        return list(examples)
    by_label: dict[str, list] = {}
    for example in examples:
        by_label.setdefault(example.label, []).append(example)
    quotas = {k: n * len(v) / len(examples) for k, v in by_label.items()}
    counts = {k: int(q) for k, q in quotas.items()}
    for k in sorted(quotas, key=lambda k: quotas[k] - counts[k], reverse=True)[
            : n - sum(counts.values())]:
        counts[k] += 1
    rng = random.Random(seed)
    chosen = {e.id for k, v in by_label.items() for e in rng.sample(v, counts[k])}
    return [e for e in examples if e.id in chosen]


def ci(values) -> dict:
    mean, low, high = bootstrap_ci(list(values), samples=2000, seed=0)
    return {"mean": mean, "low": low, "high": high, "n": len(values)}


def open_project(workdir: Path) -> Project:
    if (workdir / "ragloop.toml").exists():
        return Project.load(workdir)
    return Project.init(workdir, name="bench-pubmedqa")


def ingest(pipeline: Pipeline, workdir: Path) -> dict:
    corpus = workdir / "corpus" / "pubmedqa.jsonl"
    write_pubmedqa_corpus(DATA, corpus)
    start = time.perf_counter()
    report = pipeline.ingest([corpus], progress=True)
    return {"seconds": time.perf_counter() - start, "stats": pipeline.store.stats(),
            "ok": report.ok}


def retrieval(pipeline: Pipeline, examples) -> dict:
    rows, latencies = [], []
    for example in examples:
        start = time.perf_counter()
        candidates = pipeline.retrieve(example.question, k=10)
        latencies.append(time.perf_counter() - start)
        rows.append(retrieval_scores([c.chunk.doc_id for c in candidates], example.gold_doc_ids,
                                     ks=(5, 10)))
    return {name: ci([r[name] for r in rows]) for name in ("hit@5", "recall@5", "mrr@10",
                                                          "ndcg@10")} | {
        "latency_s_mean": sum(latencies) / len(latencies)}


def majority(gold: list[str]) -> dict:
    scores = label_scores(gold, ["yes"] * len(gold), LABELS)
    return {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}


def answering(pipeline: Pipeline, dataset: Path, workers: int) -> dict:
    result = run_eval(pipeline, dataset, options=RunOptions(workers=workers, judge=False))
    agg = result.aggregates
    from ragloop.evals.runs import read_records

    records = [r for r in read_records(result.run_dir) if r.ok]
    gold = [r.label for r in records]
    return {"run_dir": str(result.run_dir), "n": len(records), "errors": agg["n_errors"],
            "accuracy": agg["metrics"]["label_accuracy"], "labels": agg["labels"],
            "hit@5": agg["metrics"].get("hit@5"), "context_hit": agg["metrics"].get(
                "context_hit"), "refused": agg["metrics"].get("refused"),
            "latency_s": agg["latency_s"], "tokens": agg["tokens"],
            "majority_baseline": majority(gold)}


def gold_reader(pipeline: Pipeline, examples) -> dict:
    records = load_records(DATA)
    gold, predicted, latencies = [], [], []
    for example in examples:
        abstract = "\n".join(records[example.id]["CONTEXTS"])
        messages = [{"role": "system", "content": "Answer the question about the abstract "
                     "with one word: yes, no or maybe."},
                    {"role": "user", "content": f"Abstract:\n{abstract}\n\nQuestion: "
                     f"{example.question}"}]
        start = time.perf_counter()
        try:
            out = pipeline.llm.complete(messages, schema=GOLD_SCHEMA, max_tokens=12)
            predicted.append(out.parsed["answer"])
        except ModelError:
            predicted.append(None)
        latencies.append(time.perf_counter() - start)
        gold.append(example.label)
    scores = label_scores(gold, predicted, LABELS)
    return {"n": len(gold), "accuracy": ci([float(g == p) for g, p in zip(gold, predicted,
                                                                          strict=True)]),
            "labels": scores, "latency_s_mean": sum(latencies) / len(latencies),
            "majority_baseline": majority(gold)}


def fmt(v: dict) -> str:
    return f"{v['mean']:.3f} [{v['low']:.3f}, {v['high']:.3f}]"


def table(results: dict) -> str:
    lines = ["| measure | questions | value (95% CI) | majority baseline (always yes) |",
             "|---|---|---|---|"]
    r = results["retrieval"]
    lines.append(f"| retrieval hit@5 (own abstract) | {r['hit@5']['n']} | {fmt(r['hit@5'])} | "
                 "– |")
    lines.append(f"| retrieval MRR@10 / nDCG@10 | {r['mrr@10']['n']} | "
                 f"{r['mrr@10']['mean']:.3f} / {r['ndcg@10']['mean']:.3f} | – |")
    for key, title in (("answering", "RAG answer accuracy"),
                       ("gold_reader", "reader only, gold abstract")):
        a = results.get(key)
        if not a:
            continue
        labels = a["labels"]
        per = ", ".join(f"{k} P {v['precision']:.2f} R {v['recall']:.2f}"
                        for k, v in labels["per_label"].items())
        dist = ", ".join(f"{k} {v}" for k, v in sorted(labels["prediction_distribution"]
                                                        .items()))
        base = a["majority_baseline"]
        lines.append(f"| {title} | {a['n']} | {fmt(a['accuracy'])} | {base['accuracy']:.3f} |")
        lines.append(f"| {title}: macro-F1 | {a['n']} | {labels['macro_f1']:.3f} | "
                     f"{base['macro_f1']:.3f} |")
        lines.append(f"| {title}: per label | {a['n']} | {per} | – |")
        lines.append(f"| {title}: predictions | {a['n']} | {dist} | yes {a['n']} |")
    if results.get("answering"):
        a = results["answering"]
        lines.append(f"| RAG latency per question (mean / p95) | {a['n']} | "
                     f"{a['latency_s']['mean']:.1f} s / {a['latency_s']['p95']:.1f} s | – |")
        tokens = a["tokens"]
        lines.append(f"| RAG tokens (prompt / completion) | {a['n']} | "
                     f"{tokens['prompt']} / {tokens['completion']} | – |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=500, help="questions to answer with RAG: "
                        "a seeded subset stratified by label (all 500 by default)")
    parser.add_argument("--gold", type=int, default=0, help="questions (stratified subset) "
                        "for the reader-only run with the gold abstract (0: skip)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ragloop-bench-pubmedqa"))
    parser.add_argument("--skip-answering", action="store_true")
    args = parser.parse_args()

    project = open_project(args.workdir)
    pipeline = Pipeline(project)
    examples = list(iter_pubmedqa_examples(DATA))
    subset = stratified_subset(examples, args.limit)
    dataset = args.workdir / f"pubmedqa-test-{len(subset)}.jsonl"
    write_dataset(dataset, subset)
    results: dict = {"dataset": "PubMedQA PQA-L official test split (500)",
                     "corpus": "pooled CONTEXTS, 1,000 documents (one per PMID)",
                     "model": pipeline.llm.model_id, "embedder": "all-MiniLM-L6-v2 int8",
                     "machine": f"{platform.machine()}, {platform.python_version()}",
                     "config": project.settings.model_dump(mode="json")}
    results["ingest"] = ingest(pipeline, args.workdir)
    print(f"ingested: {results['ingest']['stats']}")
    results["retrieval"] = retrieval(pipeline, examples)
    print(f"retrieval hit@5 {fmt(results['retrieval']['hit@5'])}")
    if args.gold:
        results["gold_reader"] = gold_reader(pipeline, stratified_subset(examples, args.gold))
    if not args.skip_answering:
        results["answering"] = answering(pipeline, dataset, args.workers)
    results["limit"] = {"retrieval": len(examples),
                        "answering": None if args.skip_answering else len(subset),
                        "gold_reader": args.gold,
                        "subset": "seeded (0) sample stratified by label, official order"}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, default=str))
    print(table(results))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
