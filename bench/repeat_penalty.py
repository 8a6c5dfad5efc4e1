"""Does llama.cpp's repeat penalty help the small default model answer? Side by side, one run.

    python bench/repeat_penalty.py [--values 1.0,1.1,1.2]

For each value: a fresh demo project (the bundled docs), the demo golden set (12 questions)
answered by the default pipeline, scored without judges (token F1, citation recall and
precision, loops = answers with a 4-word sequence repeated 3+ times). Writes
bench/results/repeat_penalty.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ragloop.demo import demo_golden_path, make_demo_project, resolve_golden  # noqa: E402
from ragloop.evals.runner import RunOptions, run_eval  # noqa: E402
from ragloop.pipeline import Pipeline  # noqa: E402
from ragloop.project import Project  # noqa: E402


def loops(text: str) -> bool:
    words = re.findall(r"\w+", text.lower())
    grams = [" ".join(words[i:i + 4]) for i in range(len(words) - 3)]
    return any(grams.count(g) >= 3 for g in set(grams))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--values", default="1.0,1.1,1.2")
    args = parser.parse_args()
    rows = []
    for value in [float(v) for v in args.values.split(",")]:
        root = Path(tempfile.mkdtemp(prefix="ragloop-rp-"))
        project, docs = make_demo_project(root)
        text = project.config_path.read_text().replace("repeat_penalty = 1.1",
                                                        f"repeat_penalty = {value}")
        project.config_path.write_text(text)
        project = Project.load(root)
        pipeline = Pipeline(project)
        pipeline.ingest([docs])
        golden = resolve_golden(demo_golden_path(), docs, root / "golden.jsonl")
        run = run_eval(pipeline, golden, options=RunOptions(judge=False, report=False))
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
    out = ROOT / "bench" / "results" / "repeat_penalty.json"
    out.write_text(json.dumps({"demo_golden_examples": rows[0]["n"] if rows else 0,
                               "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
