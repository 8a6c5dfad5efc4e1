"""Ingestion speed on SciFact, and what LLM enrichment costs.

    python -m bench.ingest [--corpus ../shared/datasets/scifact/corpus.jsonl] [--limit N]
                           [--enrich-docs 100] [--batch-docs 64]

1. The whole corpus (5,183 documents) without enrichment, into a fresh embedded index with
   the default ONNX MiniLM embedder, uncached: documents/s and chunks/s per stage (parse,
   clean, chunk, embed, index) and overall.
2. Embedding micro-benchmark, side by side on the same chunk texts: embedder batch sizes,
   and length-sorted batches (what ``OnnxEmbedder`` does) against arrival order.
3. Contextual sentences + 2 questions per chunk on the first ``--enrich-docs`` documents
   with the default LLM (SmolLM2-135M, fresh cache): LLM tokens and seconds per document;
   then the same documents again into a fresh index: every call must come from the cache.
4. Workers (``--workers-docs N``, ``--only-workers`` to run just this part): the first N
   documents, each into a fresh index, (a) in this process with the embedder at 1 thread,
   (b) on a pool of 1 worker process and (c) on a pool of 2 worker processes, each worker
   at 1 thread. The ratio (c)/(b) is the scaling; (b)−(a) per document is what the pool
   costs the coordinator (pickling documents and chunks both ways, process start, model
   load); parse+clean+index seconds per document is the coordinator's own work.

Prints tables and writes ``bench/results/ingest.json`` (after every part, so an interrupted
run keeps what it measured). The CPU is shared with other jobs while this runs (the load
average at each part is recorded): absolute numbers are pessimistic; ratios measured side by
side in one run are the fair comparison.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.harness import Bench, Timer, dataset
from ragloop.config import EmbedderSettings, IngestSettings, LLMSettings
from ragloop.executors.local import LocalPoolExecutor
from ragloop.index.embedded import open_store
from ragloop.ingest.process import ModelSpec
from ragloop.ingest.report import STAGES
from ragloop.ingest.sync import ingest_paths
from ragloop.models.factory import build_embedder, build_llm

console = Console()


def subset(corpus: Path, n: int | None, out: Path) -> Path:
    if n is None:
        return corpus
    with corpus.open("rb") as src, out.open("wb") as dst:
        for i, line in enumerate(src):
            if i >= n:
                break
            dst.write(line)
    return out


def stage_rates(report) -> dict:
    docs = report.added + report.changed
    return {stage: {"seconds": round(seconds, 2),
                    "docs_per_s": round(docs / seconds, 1) if seconds else None,
                    "chunks_per_s": round(report.chunks / seconds, 1) if seconds else None}
            for stage, seconds in report.seconds.items()}


def run_plain(corpus: Path, embedder, batch_docs: int, workdir: Path) -> dict:
    settings = IngestSettings(batch_docs=batch_docs)
    store = open_store(workdir / "plain-index")
    report = ingest_paths([corpus], settings=settings, store=store, embedder=embedder,
                          progress=True)
    docs = report.added + report.changed
    return {"documents": docs, "chunks": report.chunks, "failed": report.failed,
            "total_seconds": round(report.total_seconds, 1),
            "docs_per_s": round(docs / report.total_seconds, 2),
            "chunks_per_s": round(report.chunks / report.total_seconds, 2),
            "stages": stage_rates(report), "errors": report.errors[:5],
            "embed_share_of_total": round(report.seconds["embed"] / report.total_seconds, 3),
            "chunker": settings.chunker, "chunk_tokens": settings.chunk_tokens}


def run_embed_micro(embedder, workdir: Path, n: int = 192) -> dict:
    """Same chunk texts, different batching; only the ONNX model call is timed."""
    store = open_store(workdir / "plain-index")
    ids = [f"{e.doc_id}#0" for _, e in zip(range(n), store.documents(), strict=False)]
    texts = [c.dense_text for c in store.get_chunks(ids)]
    inner = embedder
    results = {}
    for batch_size in (8, 32, 128):
        for sort in (True, False):
            inner.batch_size = batch_size
            with Timer() as timer:
                if sort:
                    inner.embed_passages(texts)
                else:  # arrival order: one model call per slice as it comes
                    for i in range(0, len(texts), batch_size):
                        inner._embed_batch(texts[i:i + batch_size])
            results[f"batch{batch_size}-{'sorted' if sort else 'unsorted'}"] = round(
                len(texts) / timer.seconds, 1)
    inner.batch_size = 32
    return {"texts": len(texts), "passages_per_s": results}


def run_enriched(corpus: Path, n_docs: int, embedder, workdir: Path) -> dict:
    part = subset(corpus, n_docs, workdir / "enrich.jsonl")
    llm = build_llm(LLMSettings(), workdir / "llm-cache")
    settings = IngestSettings(contextual=True, questions_per_chunk=2)
    first = ingest_paths([part], settings=settings, store=open_store(workdir / "enr-index"),
                         embedder=embedder, llm=llm, progress=True)
    again = ingest_paths([part], settings=settings, store=open_store(workdir / "enr-index2"),
                         embedder=embedder, llm=llm, progress=False)
    docs = first.added
    return {"documents": docs, "chunks": first.chunks, "questions": first.questions,
            "llm_calls": first.llm["calls"], "prompt_tokens": first.llm["prompt_tokens"],
            "completion_tokens": first.llm["completion_tokens"],
            "prompt_tokens_per_doc": round(first.llm["prompt_tokens"] / docs, 1),
            "completion_tokens_per_doc": round(first.llm["completion_tokens"] / docs, 1),
            "enrich_seconds_per_doc": round(first.seconds["enrich"] / docs, 2),
            "total_seconds_per_doc": round(first.total_seconds / docs, 2),
            "stages": stage_rates(first), "warnings": first.warnings[:5],
            "rerun_llm_cache_misses": again.llm["cache_misses"],
            "rerun_llm_calls": again.llm["calls"],
            "rerun_enrich_seconds": round(again.seconds["enrich"], 2),
            "llm_model": llm.model_id}


def run_workers(corpus: Path, n_docs: int, batch_docs: int, workdir: Path) -> dict:
    part = subset(corpus, n_docs, workdir / "workers.jsonl")
    settings = IngestSettings(batch_docs=batch_docs)
    spec = ModelSpec(EmbedderSettings(cache=False), threads=1)
    runs = {}
    for name, workers in (("in-process, 1 thread", 0), ("1 worker process", 1),
                          ("2 worker processes", 2)):
        store = open_store(workdir / f"workers-{workers}")
        with Timer() as timer:  # includes worker start and model load
            if workers == 0:
                report = ingest_paths([part], settings=settings, store=store,
                                      embedder=build_embedder(EmbedderSettings(cache=False),
                                                              None, n_threads=1),
                                      progress=False)
            else:
                with LocalPoolExecutor(workers) as pool:
                    report = ingest_paths([part], settings=settings, store=store,
                                          embedder=build_embedder(
                                              EmbedderSettings(cache=False), None, n_threads=1),
                                          progress=False, executor=pool, models=spec)
        seconds = timer.seconds
        store.close()
        docs = report.added
        own = sum(report.seconds[s] for s in ("parse", "clean", "index"))
        runs[name] = {"workers": workers, "documents": docs, "chunks": report.chunks,
                      "seconds": round(seconds, 1), "docs_per_s": round(docs / seconds, 2),
                      "coordinator_ms_per_doc": round(1000 * own / docs, 2),
                      "stages": stage_rates(report), "failed": report.failed}
    one, two = runs["1 worker process"], runs["2 worker processes"]
    inline = runs["in-process, 1 thread"]
    return {"runs": runs, "speedup_2_vs_1_workers": round(two["docs_per_s"] / one["docs_per_s"],
                                                          2),
            "pool_overhead_ms_per_doc": round(1000 * (one["seconds"] - inline["seconds"])
                                              / one["documents"], 2),
            "batch_docs": batch_docs, "load_average_after": os.getloadavg()}


def print_workers(workers: dict) -> None:
    table = Table(title=f"SciFact ingest on workers (1 thread each): 2 vs 1 workers "
                        f"{workers['speedup_2_vs_1_workers']}x; pool overhead "
                        f"{workers['pool_overhead_ms_per_doc']} ms/doc")
    for column in ("run", "docs", "chunks", "seconds", "docs/s", "coordinator ms/doc"):
        table.add_column(column, justify="right")
    for name, run in workers["runs"].items():
        table.add_row(name, str(run["documents"]), str(run["chunks"]), str(run["seconds"]),
                      str(run["docs_per_s"]), str(run["coordinator_ms_per_doc"]))
    console.print(table)


def print_tables(results: dict) -> None:
    if "workers" in results:
        print_workers(results["workers"])
    if "plain" not in results:
        return
    plain = results["plain"]
    table = Table(title=f"SciFact ingest, no enrichment: {plain['documents']} docs, "
                        f"{plain['chunks']} chunks, {plain['total_seconds']} s "
                        f"= {plain['docs_per_s']} docs/s")
    for column in ("stage", "seconds", "docs/s", "chunks/s"):
        table.add_column(column, justify="right")
    for stage in STAGES:
        row = plain["stages"][stage]
        table.add_row(stage, str(row["seconds"]), str(row["docs_per_s"]),
                      str(row["chunks_per_s"]))
    console.print(table)
    if "embed_micro" in results:
        micro = Table(title=f"embedder passages/s on {results['embed_micro']['texts']} chunks")
        micro.add_column("batching")
        micro.add_column("passages/s", justify="right")
        for name, rate in results["embed_micro"]["passages_per_s"].items():
            micro.add_row(name, str(rate))
        console.print(micro)
    if "enriched" in results:
        enr = results["enriched"]
        table = Table(title=f"contextual + 2 questions/chunk on {enr['documents']} docs "
                            f"({enr['llm_model']})")
        for column in ("chunks", "questions", "LLM calls", "prompt tok/doc",
                       "completion tok/doc", "enrich s/doc", "total s/doc",
                       "re-run cache misses"):
            table.add_column(column, justify="right")
        table.add_row(*(str(enr[k]) for k in (
            "chunks", "questions", "llm_calls", "prompt_tokens_per_doc",
            "completion_tokens_per_doc", "enrich_seconds_per_doc", "total_seconds_per_doc",
            "rerun_llm_cache_misses")))
        console.print(table)


def options(parser) -> None:
    parser.add_argument("--corpus", type=Path, default=None,
                        help="BEIR corpus.jsonl (default: ../shared/datasets/scifact)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N documents")
    parser.add_argument("--enrich-docs", type=int, default=100)
    parser.add_argument("--batch-docs", type=int, default=64)
    parser.add_argument("--only-enrich", action="store_true",
                        help="run part 3 only and add it to the existing result file")
    parser.add_argument("--workers-docs", type=int, default=600,
                        help="documents for the 1-vs-2-workers comparison (0: skip)")
    parser.add_argument("--only-workers", action="store_true",
                        help="run part 4 only and add it to the existing result file")


def main(argv=None) -> None:
    bench = Bench("ingest", __doc__, argv, extra=options,
                  quick_help="200 documents, 2 enriched, 40 on workers")
    args = bench.args
    if args.quick:
        args.limit, args.enrich_docs, args.workers_docs = 200, 2, 40
    corpus_path = args.corpus or dataset("scifact") / "corpus.jsonl"

    def load(when: str) -> None:
        results.setdefault("load_average", {})[when] = os.getloadavg()

    if args.only_workers:
        results = bench.previous()
        load("workers_start")
        with tempfile.TemporaryDirectory(dir=args.out) as tmp, bench.timed("workers"):
            results["workers"] = run_workers(corpus_path, args.workers_docs, args.batch_docs,
                                             Path(tmp))
        bench.write(results)
        print_workers(results["workers"])
        return
    if args.only_enrich:
        results = bench.previous()
        embedder = build_embedder(EmbedderSettings(cache=False), None)
        with tempfile.TemporaryDirectory(dir=args.out) as tmp, bench.timed("enriched"):
            results["enriched"] = run_enriched(corpus_path, args.enrich_docs, embedder,
                                               Path(tmp))
        load("enrich_end")
        bench.write(results)
        print_tables(results)
        return
    results: dict = {"note": "CPU shared with other agents' jobs during the run; see the "
                             "load averages. Embedder uncached; LLM cache fresh."}
    load("start")
    if args.limit:
        results["note"] += f" Corpus limited to the first {args.limit} documents (--limit)."

    def save() -> None:  # after every part, so an interrupted run keeps what it measured
        load("end")
        bench.write(results)

    embedder = build_embedder(EmbedderSettings(cache=False), None)
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        workdir = Path(tmp)
        corpus = subset(corpus_path, args.limit, workdir / "corpus.jsonl")
        with bench.timed("plain"):
            results["plain"] = run_plain(corpus, embedder, args.batch_docs, workdir)
        save()
        with bench.timed("embed_micro"):
            results["embed_micro"] = run_embed_micro(embedder, workdir)
        save()
        if args.enrich_docs:
            with bench.timed("enriched"):
                results["enriched"] = run_enriched(corpus_path, args.enrich_docs, embedder,
                                                   workdir)
            save()
        if args.workers_docs:
            with bench.timed("workers"):
                results["workers"] = run_workers(corpus_path, args.workers_docs,
                                                 args.batch_docs, workdir)
            save()
    print_tables(results)


if __name__ == "__main__":
    main()
