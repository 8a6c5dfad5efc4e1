"""Post-training on the bundled demo corpus, end to end through the CLI, gated on the demo
golden set: the loop "synthesise → verify → train → compare" in four commands.

1. ``ragloop demo --out W --no-judge`` — a project with the demo docs ingested.
2. ``ragloop -p W eval synth synth.jsonl --n N`` — questions written by the model from the
   demo chunks, kept only when grounded (``evals.synth`` filters).
3. Training rows from that synthetic set, either
   - ``selfgen``: ``train data selfgen`` — best-of-N answers of the base model, accepted only
     with valid citations and grounding (the verified slow path distilled into the fast one),
   - ``reference``: ``train data golden`` — the synthesised short answer itself, citing the
     chunk it was written from.
4. ``ragloop -p W train sft ROWS --out NAME --eval demo_golden.jsonl --metric token_f1`` —
   LoRA, GGUF, then base vs tuned on the 12 demo golden questions (paired bootstrap).

The synthetic questions come from the same seven documents the golden questions ask about,
so this is an **in-domain** result (no golden question or id is used for training; the
commands refuse overlapping ids). Writes ``bench/results/demo_train.json`` and prints a
table. CPU-heavy: run it under ``flock /tmp/cpu.lock`` on the shared machine.

    python bench/demo_train.py [--source selfgen|reference] [--synth 60] [--samples 4]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from ragloop.evals.compare import compare_runs  # noqa: E402
from ragloop.evals.runs import load_run  # noqa: E402

OUT = REPO / "bench" / "results" / "demo_train.json"
METRICS = ("token_f1", "citation_precision", "citation_recall", "exact_match")


def ragloop(*args: str) -> tuple[float, str]:
    exe = Path(sys.executable).with_name("ragloop")
    command = [str(exe if exe.exists() else shutil.which("ragloop")), *args]
    print("$ ragloop " + " ".join(args), flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    tail = (done.stdout + done.stderr)[-3000:]
    print(tail, flush=True)
    if done.returncode not in (0, 3, 4):  # 3: fewer synthetic questions kept than asked,
        # 4: the gate failed — both are results here
        raise SystemExit(f"ragloop {args[2] if len(args) > 2 else ''} failed "
                         f"({done.returncode})")
    return seconds, tail


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ragloop-bench-demo"))
    parser.add_argument("--source", choices=("selfgen", "reference"), default="selfgen")
    parser.add_argument("--synth", type=int, default=60, help="Synthetic questions to keep.")
    parser.add_argument("--samples", type=int, default=4, help="selfgen: answers per question.")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    work = args.workdir
    results: dict = json.loads(args.out.read_text()) if args.out.exists() else {}
    entry: dict = {"args": vars(args) | {"workdir": str(work), "out": str(args.out)},
                   "in_domain": True, "seconds": {}}
    if not (work / "ragloop.toml").exists():
        entry["seconds"]["demo"], _ = ragloop("demo", "--out", str(work), "--no-judge")
    data = work / ".ragloop"
    golden = next(data.rglob("demo_golden.jsonl"), None) if data.exists() else None
    golden = golden or next(work.rglob("demo_golden.jsonl"))
    synth = work / "train" / f"synth-{args.synth}.jsonl"
    synth.parent.mkdir(exist_ok=True)
    if not synth.exists():
        entry["seconds"]["synth"], _ = ragloop("-p", str(work), "eval", "synth", str(synth),
                                               "--n", str(args.synth), "--seed", "0")
    entry["synth_examples"] = sum(1 for line in synth.open() if line.strip())
    if args.source == "selfgen":
        stem = work / "train" / f"selfgen-{args.synth}x{args.samples}"
        entry["seconds"]["rows"], _ = ragloop(
            "-p", str(work), "train", "data", "selfgen", str(synth), str(stem) + ".jsonl",
            "--samples", str(args.samples), "--eval", str(golden))
        rows = Path(str(stem) + ".sft.jsonl")
        entry["selfgen"] = json.loads(Path(str(stem) + ".report.json").read_text())
    else:
        rows = work / "train" / f"reference-{args.synth}.sft.jsonl"
        entry["seconds"]["rows"], _ = ragloop("-p", str(work), "train", "data", "golden",
                                              str(synth), str(rows), "--balance", "none",
                                              "--eval", str(golden))
    entry["rows"] = sum(1 for line in rows.open() if line.strip())
    name = f"demo-{args.source}"
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
    entry["answers"] = [{"id": rb.id, "base": rb.answer, "tuned": rt.answer}
                        for rb, rt in zip(base.records, tuned.records, strict=False)][:12]
    entry["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results[args.source] = entry
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"\nDemo golden set (12 questions), SFT on {entry['rows']} rows from "
          f"{entry['synth_examples']} synthetic questions ({args.source}; in-domain)\n")
    print("| metric | base | tuned | delta [95% CI] |\n|---|---|---|---|")
    for metric, d in entry["eval"].items():
        print(f"| {metric} | {d['base']:.3f} | {d['tuned']:.3f} | {d['delta']:+.3f} "
              f"[{d['low']:+.3f}, {d['high']:+.3f}] |")


if __name__ == "__main__":
    main()
