"""PubMedQA (PQA-L, official 500-question test split) end to end with the default pipeline.

1. The pooled corpus (every record's CONTEXTS, one document per PMID, 1,000 documents) is
   ingested into a project (``--out``, kept between runs so ingestion happens once) with the
   default settings, answering in ``fast`` mode (the model, not the router).
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

    python -m bench.pubmedqa [--limit 100] [--gold 100] [--out DIR]
"""

from __future__ import annotations

from pathlib import Path

from bench.corpora import pubmedqa_data, pubmedqa_project, stratified_subset
from bench.harness import Bench, time_each
from ragloop.errors import ModelError
from ragloop.evals.datasets import write_dataset
from ragloop.evals.import_pubmedqa import LABELS, iter_pubmedqa_examples, load_records
from ragloop.evals.metrics.answer import label_scores
from ragloop.evals.metrics.retrieval import retrieval_scores
from ragloop.evals.metrics.stats import bootstrap_ci
from ragloop.evals.runner import RunOptions, run_eval
from ragloop.pipeline import Pipeline

GOLD_SCHEMA = {"type": "object", "properties": {"answer": {"type": "string",
                                                           "enum": list(LABELS)}},
               "required": ["answer"]}


def ci(values) -> dict:
    mean, low, high = bootstrap_ci(list(values), samples=2000, seed=0)
    return {"mean": mean, "low": low, "high": high, "n": len(values)}


def retrieval(pipeline: Pipeline, examples) -> dict:
    found, latencies = time_each(lambda e: pipeline.retrieve(e.question, k=10), examples)
    rows = [retrieval_scores([c.chunk.doc_id for c in candidates], example.gold_doc_ids,
                             ks=(5, 10)) for example, candidates in zip(examples, found,
                                                                        strict=True)]
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
    records = load_records(pubmedqa_data())

    def read(example) -> str | None:
        abstract = "\n".join(records[example.id]["CONTEXTS"])
        messages = [{"role": "system", "content": "Answer the question about the abstract "
                     "with one word: yes, no or maybe."},
                    {"role": "user", "content": f"Abstract:\n{abstract}\n\nQuestion: "
                     f"{example.question}"}]
        try:
            return pipeline.llm.complete(messages, schema=GOLD_SCHEMA,
                                         max_tokens=12).parsed["answer"]
        except ModelError:
            return None

    predicted, latencies = time_each(read, examples)
    gold = [example.label for example in examples]
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


def options(parser) -> None:
    parser.add_argument("--limit", type=int, default=500, help="questions to answer with RAG: "
                        "a seeded subset stratified by label (all 500 by default)")
    parser.add_argument("--gold", type=int, default=0, help="questions (stratified subset) "
                        "for the reader-only run with the gold abstract (0: skip)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-answering", action="store_true")


def main(argv=None) -> None:
    bench = Bench("pubmedqa", __doc__, argv, extra=options,
                  quick_help="6 questions answered, 3 read with the gold abstract")
    args = bench.args
    if args.quick:
        args.limit, args.gold = 6, 3
    with bench.timed("ingest"):
        pipeline, ingested = pubmedqa_project(args.out, settings={"answer": {"mode": "fast"}},
                                              progress=True)
    examples = list(iter_pubmedqa_examples(pubmedqa_data()))
    subset = stratified_subset(examples, args.limit)
    dataset = args.out / f"pubmedqa-test-{len(subset)}.jsonl"
    write_dataset(dataset, subset)
    results: dict = {"dataset": "PubMedQA PQA-L official test split (500)",
                     "corpus": "pooled CONTEXTS, 1,000 documents (one per PMID)",
                     "model": pipeline.llm.model_id, "embedder": "all-MiniLM-L6-v2 int8",
                     "config": pipeline.settings.model_dump(mode="json"), "ingest": ingested}
    print(f"ingested: {results['ingest']['stats']}")
    with bench.timed("retrieval"):
        results["retrieval"] = retrieval(pipeline, examples)
    print(f"retrieval hit@5 {fmt(results['retrieval']['hit@5'])}")
    if args.gold:
        with bench.timed("gold_reader"):
            results["gold_reader"] = gold_reader(pipeline,
                                                 stratified_subset(examples, args.gold))
    if not args.skip_answering:
        with bench.timed("answering"):
            results["answering"] = answering(pipeline, dataset, args.workers)
    results["limit"] = {"retrieval": len(examples),
                        "answering": None if args.skip_answering else len(subset),
                        "gold_reader": args.gold,
                        "subset": "seeded (0) sample stratified by label, official order"}
    bench.write(results)
    print(table(results))


if __name__ == "__main__":
    main()
