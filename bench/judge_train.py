"""Tuning the faithfulness judge: the embedded 135M model trained on judge rows whose verdicts
are known by construction (``ragloop train data judge``: sentences of the retrieved context
vs. claims it does not make), then base and tuned judges graded against the human labels
shipped with ragloop (``eval calibrate``) — none of which reaches training.

The constructed rows come from PubMedQA's train-split questions over the pooled PubMedQA
corpus (the project ``bench.posttrain`` ingests, shared through the same ``--out``). With
``--labels-train`` the shipped human labels' *train* split joins them (in domain: ragloop's
demo corpus): its verdicts (``--label-repeat`` times) and constructed rows over its passages
(``--label-passes`` seeds). With ``--distill`` the model's own answers join them, over the
same contexts: paraphrases and closed-book answers labelled by the likelihood judge at its
shipped threshold (``distilled_rows``; ``--no-constructed`` leaves the constructed rows
out). Base and tuned judges are scored on the *test* split only, whose
passages no training row contains.

Writes ``bench/results/judge-train.json`` (or ``--results``) and prints a table. Kappa on a
few dozen items has a wide interval (bootstrap over items, printed). CPU-heavy: run it alone.

    python -m bench.judge_train [--questions 200] [--epochs 1] [--labels-train]
"""

from __future__ import annotations

from bench.corpora import pubmedqa_data, pubmedqa_project
from bench.harness import Bench
from bench.posttrain import WORKDIR, project_settings
from ragloop.config import TrainSettings
from ragloop.evals.calibrate import calibrate, load_labels, shipped_labels_path
from ragloop.evals.import_pubmedqa import iter_pubmedqa_examples
from ragloop.evals.judge_agreement import likelihood_threshold
from ragloop.evals.metrics.stats import cohen_kappa
from ragloop.pipeline import Pipeline
from ragloop.train.data_judge import DistillTally, build_cases, label_cases, training_rows
from ragloop.train.gate import with_model
from ragloop.train.rows import write_rows
from ragloop.train.trainer import train_model


def kappa_interval(rows: list[dict], labels: tuple[str, str], samples: int = 2000
                   ) -> tuple[float, float]:
    import numpy as np

    scored = [r for r in rows if r["verdict"] is not None]
    rng = np.random.default_rng(0)
    values = []
    for _ in range(samples):
        pick = [scored[i] for i in rng.integers(0, len(scored), len(scored))]
        value = cohen_kappa([r["human"] for r in pick], [r["verdict"] for r in pick],
                            list(labels))
        if value == value:  # nan when a resample holds one class only
            values.append(value)
    return float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))


def judge_summary(report) -> dict:
    out = {}
    for j in report.judges:
        rows = [r for r in report.items if r["judge"] == j.judge]
        low, high = kappa_interval(rows, j.labels)
        out[j.judge] = {"n": j.n, "errors": j.errors, "accuracy": j.accuracy,
                        "kappa": j.kappa, "kappa_low": low, "kappa_high": high,
                        "confusion": j.confusion,
                        "predicted": {lbl: sum(r["verdict"] == lbl for r in rows)
                                      for lbl in j.labels}}
    return out


def options(parser) -> None:
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--context-chunks", type=int, default=1)
    parser.add_argument("--method", choices=("sft", "dpo"), default="sft")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--labels-train", action="store_true")
    parser.add_argument("--prompt-version", default="v1", help="judge prompts (v2: the "
                        "faithfulness judge sees the answer words the context lacks)")
    parser.add_argument("--label-repeat", type=int, default=3)
    parser.add_argument("--label-passes", type=int, default=4)
    parser.add_argument("--distill", action="store_true", help="add rows over the model's "
                        "own answers, labelled by the likelihood judge")
    parser.add_argument("--distill-margin", type=float, default=0.5)
    parser.add_argument("--no-constructed", action="store_true")
    parser.add_argument("--name", default=None)


def main(argv=None) -> None:
    bench = Bench("judge_train", __doc__, argv, extra=options, results="judge-train",
                  out=WORKDIR, quick_help="10 questions, no human labels, a tenth of an epoch")
    args = bench.args
    if args.quick:
        args.questions, args.labels_train, args.epochs = 10, False, 0.1
    name = args.name or f"judge-faithfulness-{args.method}"
    results: dict = {}
    with bench.timed("ingest"):
        pipeline, results["ingest"] = pubmedqa_project(
            args.out, settings=project_settings(context_chunks=2, workers=2))
    project = pipeline.project
    train = list(iter_pubmedqa_examples(pubmedqa_data(), split="train"))[:args.questions]
    with bench.timed("data") as data_timer:
        cases = build_cases(pipeline, train, context_chunks=args.context_chunks, seed=0)
        human = (load_labels(shipped_labels_path(), split="train") if args.labels_train else [])
        passages = label_cases(human)
        version = args.prompt_version
        tag = ("-labels" if args.labels_train else "") + ("" if version == "v1" else f"-{version}")
        tag += ("-distill" if args.distill else "") + ("-nocons" if args.no_constructed else "")
        tally = DistillTally()
        threshold = None
        if args.distill:
            threshold = likelihood_threshold(None, pipeline.judge_llm.model_id, version)
            if threshold is None:
                raise SystemExit("no shipped likelihood threshold for this judge model")
        rows_path = args.out / "data" / f"judge-{args.method}-{args.questions}{tag}.jsonl"

        passes = [(cases, 0), *((passages, seed) for seed in
                                range(args.label_passes if passages else 0))]
        rows = training_rows(passes, fmt=args.method, version=version,
                             constructed=not args.no_constructed,
                             distill_llm=pipeline.judge_llm if args.distill else None,
                             threshold=threshold, margin=args.distill_margin, human=human,
                             label_repeat=args.label_repeat, tally=tally)
        n_rows = write_rows(rows_path, rows, args.method)
    results["data"] = {"questions": len(train), "cases": len(cases), "rows": n_rows,
                       "human_train_items": len(human), "human_passages": len(passages),
                       "distilled": tally.as_dict() if args.distill else None,
                       "distill_threshold": threshold,
                       "seconds": data_timer.seconds}
    settings = TrainSettings(epochs=args.epochs, learning_rate=args.lr)
    with bench.timed("training") as timer:
        outcome = train_model(project, args.method, rows_path, name, settings=settings,
                              on_step=lambda s, n, loss: print(
                                  f"step {s}/{n} loss {loss:.4f} {timer.elapsed():.0f}s",
                                  flush=True))
    lin = outcome.lineage
    results["training"] = {k: lin["training"][k] for k in (
        "steps", "examples_seen", "seconds", "s_per_example", "peak_rss_mb")}
    results["training"]["loss_first"] = lin["metrics"]["train_loss"]["before"]
    results["training"]["loss_last"] = lin["metrics"]["train_loss"]["after"]
    items = load_labels(shipped_labels_path(), split="test", version=version)
    reports = {}
    for label, variant in (("base", with_model(project, model_path=lin["base"]["gguf"])),
                           ("tuned", with_model(project, model=name))):
        with Pipeline(variant) as judged:
            reports[label] = calibrate(judged.judge_llm, items, version=version)
        results[label] = judge_summary(reports[label])
        bench.write(results)
    print(f"\nJudges vs the {len(items)} held-out shipped human labels; judge tuned on "
          f"{n_rows} faithfulness rows ({len(cases)} PubMedQA train questions, "
          f"{len(human)} human train labels)\n")
    print("| judge | base kappa [95% CI] | tuned kappa [95% CI] | base acc | tuned acc |")
    print("|---|---|---|---|---|")
    for judge in results["base"]:
        b, t = results["base"][judge], results["tuned"][judge]
        print(f"| {judge} | {b['kappa']:.2f} [{b['kappa_low']:.2f}, {b['kappa_high']:.2f}] | "
              f"{t['kappa']:.2f} [{t['kappa_low']:.2f}, {t['kappa_high']:.2f}] | "
              f"{b['accuracy']:.2f} | {t['accuracy']:.2f} |")
    tr = results["training"]
    print(f"\ntraining: {tr['examples_seen']} examples, {tr['seconds']:.0f} s "
          f"({tr['s_per_example']:.2f} s/example), peak RSS {tr['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
