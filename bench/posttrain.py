"""Post-training on PubMedQA: train the embedded 135M model on the 500 labelled questions
outside the official test split, evaluate base and tuned through the RAG pipeline on the
official test questions.

1. The pooled PubMedQA corpus (1,000 abstracts) is ingested into a project (``--out``,
   kept between runs; ``bench.judge_train`` and ``bench.pubmedqa_probe`` share it). The
   project answers in ``fast`` mode: the models themselves are compared, not the router.
2. Training rows (``ragloop train data golden``): the train split, label-balanced to
   ``--per-label`` examples per label (rare labels repeated, common ones sampled; a
   label-skewed set collapsed the model to always "yes" in a first probe), prompts built by
   the pipeline exactly as at answer time.
3. ``train_model`` (LoRA, the project's ``[train]`` settings), refusing any row from the test
   split; GGUF registered in the project.
4. ``run_gate``: base and tuned through ``ragloop eval run`` machinery on the test questions
   (``--test-limit N``: a seeded label-stratified subset; 0: all 500), compared with the
   paired bootstrap. Accuracy and macro-F1 with bootstrap 95% intervals, the prediction
   distribution, beside the majority baseline (0.552 on the 500) and BioBERT (0.681).
5. Cost: seconds per training example, total training time, peak RSS, disk of the extra and
   of the tuned model.

Writes ``bench/results/posttrain.json`` (after every phase; ``--results`` for another file)
and prints a Markdown table. CPU-heavy: run it under the CPU lock on the shared machine.

    python -m bench.posttrain [--per-label 100] [--test-limit 150] [--method sft]
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.corpora import pubmedqa_data, pubmedqa_project, stratified_subset
from bench.harness import Bench
from ragloop.config import TrainSettings
from ragloop.evals.datasets import write_dataset
from ragloop.evals.import_pubmedqa import LABELS, iter_pubmedqa_examples
from ragloop.evals.metrics.answer import label_scores
from ragloop.evals.metrics.stats import bootstrap_ci
from ragloop.train.data_golden import balance_examples, golden_rows
from ragloop.train.gate import run_gate
from ragloop.train.rows import write_rows
from ragloop.train.trainer import train_model

BIOBERT_ACCURACY = 0.681  # PubMedQA paper, reasoning-required setting
# the project the post-training benchmarks share (the corpus is ingested once)
WORKDIR = Path("/tmp/ragloop-bench-posttrain")


def project_settings(context_chunks: int, workers: int) -> dict[str, dict]:
    """The shared project's settings: ``context_chunks`` retrieved chunks, 96 answer tokens,
    ``fast`` mode (the model answers, not the router), ``workers`` eval threads."""
    return {"answer": {"context_chunks": context_chunks, "max_tokens": 96, "mode": "fast"},
            "eval": {"workers": workers}}


def label_summary(records: list[dict], samples: int = 1000) -> dict:
    """Accuracy and macro-F1 with percentile bootstrap intervals over the examples."""
    import numpy as np

    ok = [r for r in records if r.ok]
    gold = [r.label for r in ok]
    pred = [r.predicted_label for r in ok]
    scores = label_scores(gold, pred, LABELS)
    rng = np.random.default_rng(0)
    f1s = []
    for _ in range(samples):
        idx = rng.integers(0, len(ok), len(ok))
        f1s.append(label_scores([gold[i] for i in idx], [pred[i] for i in idx],
                                LABELS)["macro_f1"])
    acc = bootstrap_ci([float(g == p) for g, p in zip(gold, pred, strict=True)],
                       samples=samples, seed=0)
    return {"n": len(ok), "errors": len(records) - len(ok),
            "accuracy": {"mean": acc[0], "low": acc[1], "high": acc[2]},
            "macro_f1": {"mean": scores["macro_f1"], "low": float(np.quantile(f1s, 0.025)),
                         "high": float(np.quantile(f1s, 0.975))},
            "prediction_distribution": scores["prediction_distribution"],
            "per_label": scores["per_label"]}


def extra_disk_mb() -> float:
    import importlib.util

    total = 0
    for name in ("torch", "transformers", "peft", "gguf", "accelerate", "safetensors",
                 "sympy", "networkx"):
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            folder = Path(list(spec.submodule_search_locations)[0])
            total += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return total / 1e6


def row(label: str, s: dict) -> str:
    a, f = s["accuracy"], s["macro_f1"]
    return (f"| {label} | {a['mean']:.3f} [{a['low']:.3f}, {a['high']:.3f}] | "
            f"{f['mean']:.3f} [{f['low']:.3f}, {f['high']:.3f}] | "
            f"{json.dumps(s['prediction_distribution'])} |")


def options(parser) -> None:
    parser.add_argument("--method", choices=("sft", "dpo", "kto"), default="sft")
    parser.add_argument("--per-label", type=int, default=100)
    parser.add_argument("--test-limit", type=int, default=150, help="0: all 500")
    parser.add_argument("--context-chunks", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--output", choices=("merged", "adapter"), default="merged")
    parser.add_argument("--name", default=None)
    parser.add_argument("--no-reason", dest="reason", action="store_false",
                        help="Target the label alone, not label + the reference's sentence.")
    parser.add_argument("--ingest-only", action="store_true", help="Ingest the corpus, stop.")


def main(argv=None) -> None:
    bench = Bench("posttrain", __doc__, argv, extra=options, out=WORKDIR,
                  quick_help="2 rows per label, 6 test questions")
    args = bench.args
    if args.quick:
        args.per_label, args.test_limit = 2, 6
    name = args.name or f"pubmedqa-{args.method}"
    results: dict = {"dataset": "PubMedQA PQA-L"}
    with bench.timed("ingest"):  # incremental: a re-run embeds nothing
        pipeline, results["ingest"] = pubmedqa_project(
            args.out, settings=project_settings(args.context_chunks, args.workers))
    project = pipeline.project
    if args.ingest_only:
        print(json.dumps(results["ingest"], default=str))
        return
    data = pubmedqa_data()
    train = list(iter_pubmedqa_examples(data, split="train"))
    test = list(iter_pubmedqa_examples(data, split="test"))
    data_dir = args.out / "data"
    write_dataset(data_dir / "test.jsonl", test)
    subset = stratified_subset(test, args.test_limit) if args.test_limit else test
    eval_path = data_dir / f"test-eval-{len(subset)}.jsonl"
    write_dataset(eval_path, subset)
    balanced = balance_examples(train, "oversample", seed=0, per_label=args.per_label)
    fmt = args.method
    rows_path = data_dir / (f"train-{fmt}-{args.per_label}"
                            f"{'' if args.reason else '-label'}.jsonl")
    with bench.timed("data") as timer:
        n_rows = write_rows(rows_path, golden_rows(pipeline, balanced, fmt=fmt,
                                                   reason=args.reason), fmt)
    results["data"] = {"train_examples": len(train), "balanced_examples": len(balanced),
                       "rows": n_rows, "seconds": timer.seconds,
                       "labels": {lbl: sum(e.label == lbl for e in balanced) for lbl in LABELS},
                       "test_eval_n": len(subset),
                       "test_subset": "all 500" if not args.test_limit else
                       "seeded (0) label-stratified subset of the official 500"}
    bench.write(results)
    settings = TrainSettings(epochs=args.epochs, learning_rate=args.lr,
                             batch_size=args.batch_size, threads=args.threads,
                             output=args.output)
    with bench.timed("training") as timer:
        outcome = train_model(project, fmt, rows_path, name, settings=settings,
                              eval_dataset=data_dir / "test.jsonl",
                              on_step=lambda s, n, loss: print(
                                  f"step {s}/{n} loss {loss:.4f} "
                                  f"{timer.elapsed():.0f}s", flush=True))
    lin = outcome.lineage
    results["training"] = {
        "method": fmt, "config": lin["config"], "steps": lin["training"]["steps"],
        "examples_seen": lin["training"]["examples_seen"],
        "seconds": lin["training"]["seconds"],
        "s_per_example": lin["training"]["s_per_example"],
        "peak_rss_mb": lin["training"]["peak_rss_mb"],
        "loss_first": lin["metrics"]["train_loss"]["before"],
        "loss_last": lin["metrics"]["train_loss"]["after"],
        "losses": lin["training"]["losses"], "skipped_too_long": lin["data"]["skipped_too_long"],
        "model_mb": lin["output"]["bytes"] / 1e6, "output": lin["output"]["kind"],
        "extra_disk_mb": extra_disk_mb()}
    bench.write(results)
    with bench.timed("eval") as timer:
        gate = run_gate(project, name, Path(lin["base"]["gguf"]), eval_path,
                        metric="label_accuracy", workers=args.workers,
                        progress=lambda label, done, total: print(
                            f"eval {label} {done}/{total}", flush=True))
        base = label_summary(gate.base_run.records)
        tuned = label_summary(gate.tuned_run.records)
    gold = [r.label for r in gate.base_run.records if r.ok]
    majority = label_scores(gold, ["yes"] * len(gold), LABELS)
    delta = gate.delta.__dict__ if gate.delta else None
    results["eval"] = {"base": base, "tuned": tuned, "delta_accuracy": delta,
                       "gate_passed": gate.passed, "seconds": timer.seconds,
                       "majority_baseline": {"accuracy": majority["accuracy"],
                                             "macro_f1": majority["macro_f1"]},
                       "biobert_accuracy": BIOBERT_ACCURACY,
                       "latency_s": {"base": gate.base_run.aggregates.get("latency_s"),
                                     "tuned": gate.tuned_run.aggregates.get("latency_s")},
                       "runs": [str(gate.base_run.path), str(gate.tuned_run.path)]}
    bench.write(results)
    print(f"\nPubMedQA, {len(subset)} test questions, trained ({fmt}) on {n_rows} rows\n")
    print("| model | accuracy [95% CI] | macro-F1 [95% CI] | predictions |")
    print("|---|---|---|---|")
    print(row("SmolLM2-135M base", base))
    print(row(f"tuned ({fmt}, LoRA)", tuned))
    print(f"| majority (always yes) | {majority['accuracy']:.3f} | "
          f"{majority['macro_f1']:.3f} | |")
    print(f"| BioBERT (published) | {BIOBERT_ACCURACY} | | |")
    print(f"\npaired delta accuracy: {gate.message}")
    tr = results["training"]
    print(f"training: {tr['examples_seen']} examples, {tr['seconds']:.0f}s "
          f"({tr['s_per_example']:.2f} s/example), peak RSS {tr['peak_rss_mb']:.0f} MB, "
          f"model {tr['model_mb']:.0f} MB, extra {tr['extra_disk_mb']:.0f} MB")


if __name__ == "__main__":
    main()
