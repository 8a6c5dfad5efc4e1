"""The corpora several benchmarks share, read in place from ``../shared/datasets``
(``bench.harness.dataset``): PubMedQA — a kept project over its pooled abstracts, and
label-stratified subsets of its questions — and BEIR-format folders."""

from __future__ import annotations

import json
import random
from pathlib import Path

from bench.harness import dataset, ingest_into, project


def pubmedqa_data() -> Path:
    """The PubMedQA folder (``ori_pqal.json``, ``test_ground_truth.json`` under ``data/``)."""
    return dataset("pubmedqa")


def pubmedqa_project(out: Path, *, settings: dict[str, dict] | None = None,
                     progress: bool = False):
    """The project in ``out`` over PubMedQA's pooled corpus (every record's CONTEXTS, one
    document per PMID: 1,000 documents), kept between runs so a re-run embeds nothing;
    ``settings`` are written to its ``ragloop.toml`` on every call. Returns the pipeline and
    the ingest summary (``bench.harness.ingest_into``)."""
    from ragloop.evals.import_pubmedqa import write_pubmedqa_corpus

    pipeline = project(out, settings=settings)
    corpus = out / "corpus" / "pubmedqa.jsonl"
    write_pubmedqa_corpus(pubmedqa_data(), corpus)
    return pipeline, ingest_into(pipeline, [corpus], progress=progress)


def stratified_subset(examples, n: int, seed: int = 0) -> list:
    """``n`` examples with the split's label proportions (largest remainder), drawn with a
    fixed seed, in the official order. The official file is not shuffled by label (its first
    30 questions are all "yes"), so its first N would hide every other label."""
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


def load_beir(folder: Path, qrels_path: Path | None = None):
    """``(corpus, queries, qrels)`` of a BEIR folder (``corpus.jsonl``, ``queries.jsonl``,
    ``qrels/test.tsv``); only the queries the qrels judge are kept."""
    with open(folder / "corpus.jsonl", encoding="utf-8") as fh:
        corpus = [json.loads(line) for line in fh if line.strip()]
    queries = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                item = json.loads(line)
                queries[str(item["_id"])] = item["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path or folder / "qrels" / "test.tsv", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[-1].lstrip("-").isdigit():
                continue  # header row
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    queries = {qid: text for qid, text in queries.items() if qid in qrels}
    return corpus, queries, qrels
