"""Post-training on the bundled demo corpus, end to end through the CLI, gated on the demo
golden set: "synthesise → verify → train → compare".

1. ``ragloop demo --out W --no-judge`` — a project with the demo docs ingested; the bench
   sets ``[answer] mode = "fast"`` (one generation, no extractive router) so the gate
   compares the models themselves.
2. Training questions written by the model from the demo chunks:
   - ``index`` (default): ``[ingest] questions_per_chunk = 2`` and a re-ingest — the
     hypothetical questions ragloop indexes for each chunk, each with its chunk as gold;
   - ``synth``: ``ragloop eval synth`` (question + answer, kept only when grounded; the 135M
     model passes its filters rarely: 3 of 34 chunks here).
3. ``ragloop train data selfgen Q OUT --samples S --teacher extract --eval demo_golden`` —
   best-of-S answers of the base model, accepted only with valid citations and grounding;
   where none passes, the extractive answer (no model call) if it passes the same checks.
4. ``ragloop train sft OUT.sft.jsonl --out NAME --eval demo_golden.jsonl --metric token_f1``
   — LoRA, GGUF, then base vs tuned on the 12 demo golden questions (paired bootstrap).

The questions come from the same seven documents the golden questions ask about, so this is
an **in-domain** result (no golden question or id is used for training; the commands refuse
overlapping ids). Adds an entry (``demo-QUESTIONS-TEACHER``) to
``bench/results/demo_train.json`` and prints a table. CPU-heavy: run it under the CPU lock on
the shared machine.

    python -m bench.demo_train [--questions index|synth] [--samples 2] [--epochs 2]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.harness import REPO, Bench, Timer, edit_config, project
from ragloop.evals.compare import compare_runs
from ragloop.evals.runs import load_run

METRICS = ("token_f1", "citation_precision", "citation_recall", "exact_match")


def ragloop(*args: str) -> tuple[float, str]:
    exe = Path(sys.executable).with_name("ragloop")
    command = [str(exe if exe.exists() else shutil.which("ragloop")), *args]
    print("$ ragloop " + " ".join(args), flush=True)
    # the CLI of this checkout, not whichever ragloop the environment has installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    with Timer() as timer:
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = timer.seconds
    tail = (done.stdout + done.stderr)[-3000:]
    print(tail, flush=True)
    if done.returncode not in (0, 3, 4):  # 3: fewer synthetic questions kept than asked,
        # 4: the gate failed — both are results here
        raise SystemExit(f"ragloop {args[2] if len(args) > 2 else ''} failed "
                         f"({done.returncode})")
    return seconds, tail


def index_questions(work: Path, out: Path) -> int:
    """The project's indexed hypothetical questions as a golden set: each question with the
    chunk (and document) it was written for as gold, no reference answer."""
    from ragloop.evals.datasets import write_dataset
    from ragloop.records import EvalExample

    examples = []
    with project(work) as pipeline:
        for stored in pipeline.store.export():
            examples += [EvalExample(id=f"hq-{q.id}", question=q.text,
                                     gold_chunk_ids=(q.chunk_id,),
                                     gold_doc_ids=(stored.document.id,), tags=("hypothetical",))
                         for q in stored.questions]
    return write_dataset(out, examples)


def options(parser) -> None:
    parser.add_argument("--questions", choices=("index", "synth"), default="index")
    parser.add_argument("--synth", type=int, default=50, help="synth: questions to keep.")
    parser.add_argument("--samples", type=int, default=2, help="Answers per question.")
    parser.add_argument("--teacher", choices=("extract", "none"), default="extract")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=3e-4)


def main(argv=None) -> None:
    bench = Bench("demo_train", __doc__, argv, extra=options,
                  quick_help="one answer per question, one epoch")
    args = bench.args
    if args.quick:
        args.samples, args.epochs = 1, 1.0
    work = args.out
    results = bench.previous()
    entry: dict = {"in_domain": True, "answer_mode": "fast", "seconds": {}}
    if not (work / "ragloop.toml").exists():
        entry["seconds"]["demo"], _ = ragloop("demo", "--out", str(work), "--no-judge")
    edit_config(work, {"answer": {"mode": "fast"}})
    golden = work / ".ragloop" / "demo_golden.jsonl"
    (work / "train").mkdir(exist_ok=True)
    if args.questions == "index":
        edit_config(work, {"ingest": {"questions_per_chunk": 2}})
        entry["seconds"]["ingest_questions"], _ = ragloop("-p", str(work), "ingest",
                                                          str(work / "docs"))
        questions = work / "train" / "index-questions.jsonl"
        index_questions(work, questions)
    else:
        questions = work / "train" / f"synth-{args.synth}.jsonl"
        if not questions.exists():
            entry["seconds"]["synth"], _ = ragloop("-p", str(work), "eval", "synth",
                                                   str(questions), "--n", str(args.synth),
                                                   "--seed", "0")
    entry["questions"] = sum(1 for line in questions.open() if line.strip())
    stem = work / "train" / f"selfgen-{args.questions}-{args.samples}-{args.teacher}"
    teacher = [] if args.teacher == "none" else ["--teacher", args.teacher]
    entry["seconds"]["rows"], _ = ragloop(
        "-p", str(work), "train", "data", "selfgen", str(questions), str(stem) + ".jsonl",
        "--samples", str(args.samples), "--eval", str(golden), *teacher)
    rows = Path(str(stem) + ".sft.jsonl")
    entry["selfgen"] = json.loads(Path(str(stem) + ".report.json").read_text())
    entry["rows"] = sum(1 for line in rows.open() if line.strip())
    name = f"demo-{args.questions}-{args.teacher}"
    entry["seconds"]["train_and_gate"], tail = ragloop(
        "-p", str(work), "train", "sft", str(rows), "--out", name, "--eval", str(golden),
        "--metric", "token_f1", "--epochs", str(args.epochs), "--lr", str(args.lr),
        "--restart")
    lineage_path = next(work.rglob(f"models/{name}/lineage.json"))
    lineage = json.loads(lineage_path.read_text())
    ev = lineage["metrics"]["eval"]
    base, tuned = (load_run(Path(p)) for p in ev["runs"])
    comparison = compare_runs(base, tuned, samples=2000, seed=0)
    entry["training"] = {k: lineage["training"][k] for k in
                         ("steps", "examples_seen", "seconds", "s_per_example", "peak_rss_mb")}
    entry["training"]["loss"] = lineage["metrics"]["train_loss"]
    entry["eval"] = {d.metric: {"base": d.a, "tuned": d.b, "delta": d.delta, "low": d.low,
                                "high": d.high, "n": d.n}
                     for d in comparison.deltas if d.metric in METRICS}
    entry["gate_passed"] = ev["gate_passed"]
    tuned_by_id = {r.id: r.answer for r in tuned.records}  # runs finish in any order
    entry["answers"] = [{"id": r.id, "base": r.answer, "tuned": tuned_by_id.get(r.id)}
                        for r in base.records]
    results[name] = {**entry, "meta": bench.meta()}
    bench.write(results)
    print(f"\nDemo golden set (12 questions, answer mode fast), SFT on {entry['rows']} rows "
          f"from {entry['questions']} {args.questions} questions (teacher {args.teacher}; "
          f"in-domain)\n")
    print("| metric | base | tuned | delta [95% CI] |\n|---|---|---|---|")
    for metric, d in entry["eval"].items():
        print(f"| {metric} | {d['base']:.3f} | {d['tuned']:.3f} | {d['delta']:+.3f} "
              f"[{d['low']:+.3f}, {d['high']:+.3f}] |")


if __name__ == "__main__":
    main()
