"""Scale: the embedded store's ANN at up to 1M chunks, the Postgres store at 100k, and BEIR
SciFact on both backends in one run.

    python -m bench.scale embedded [--n 1000000] [--optimize]  # HNSW per segment vs exact
    python -m bench.scale postgres [--n 100000]      # pgvector HNSW, BM25 in SQL, filters
    python -m bench.scale beir [../shared/datasets/scifact]   # nDCG@10, embedded vs postgres

Synthetic chunks: seeded clustered unit vectors (384-d; ``--clusters`` centres, Gaussian
spread) and Zipf-distributed words, one chunk per document, written through the stores'
ordinary writers in commits of ``--batch`` documents, so segment flushes, merges and graph
builds are all counted in the build time. Recall@10 is against an exact search of the same
vectors. Results are merged into bench/results/scale.json (one entry per part and size,
each with its own ``meta``) and printed as a table. The Postgres parts start a throwaway
server (``tests/pgserver.py``).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench import beir
from bench.corpora import load_beir
from bench.harness import CACHE, REPO, Bench, Timer, dataset, percentile_ms, time_each
from ragloop.index.ann import AnnSettings
from ragloop.index.embedded import open_store
from ragloop.index.store import Filters
from ragloop.records import Chunk, Document

DIM = 384


def vectors_block(start: int, n: int, clusters: int, seed: int) -> np.ndarray:
    """Rows ``start..start+n`` of the synthetic corpus (seeded per block, so any size is
    reproducible without holding it all in memory)."""
    centres = np.random.default_rng(seed).standard_normal((clusters, DIM)).astype(np.float32)
    rng = np.random.default_rng([seed, start])
    x = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, DIM),
                                                                          dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


WORDS = np.asarray([f"w{i}" for i in range(50_000)])


def items(start: int, vectors: np.ndarray, seed: int):
    rng = np.random.default_rng([seed, start, 1])
    for i, vector in enumerate(vectors, start):
        text = " ".join(WORDS[np.minimum(rng.zipf(1.3, size=60), len(WORDS)) - 1])
        doc = Document(id=f"d{i}", source=f"s/{i}", title="", text=text, content_hash=str(i),
                       mtime=float(i), metadata={"bucket": i % 100})
        chunk = Chunk(id=f"d{i}#0", doc_id=doc.id, ordinal=0, text=text, lexical_text=text)
        yield doc, [chunk], vector[None, :]


def fill(store, n: int, batch: int, clusters: int, seed: int) -> float:
    with Timer() as timer:
        for start in range(0, n, batch):
            size = min(batch, n - start)
            with store.writer() as writer:
                for item in items(start, vectors_block(start, size, clusters, seed), seed):
                    writer.replace_document(*item)
            print(f"  {start + size}/{n} rows", file=sys.stderr, flush=True)
    return timer.seconds


def exact_top(n: int, batch: int, clusters: int, seed: int, queries: np.ndarray, k: int,
              allowed=None) -> list[list[str]]:
    """Brute-force top-k ids over the whole synthetic corpus, block by block."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, n, batch):
        block = vectors_block(start, min(batch, n - start), clusters, seed)
        scores = queries @ block.T
        if allowed is not None:
            scores[:, ~allowed(np.arange(start, start + len(block)))] = -np.inf
        s = np.concatenate([best_s, scores], axis=1)
        i = np.concatenate([best_i, np.arange(start, start + len(block))[None, :].repeat(
            len(queries), 0)], axis=1)
        top = np.argsort(-s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
    return [[f"d{i}#0" for i, s in zip(row, srow, strict=True) if s > -np.inf]
            for row, srow in zip(best_i, best_s, strict=True)]


def recall(results: list, truth: list[list[str]]) -> float:
    hits = sum(len({i for i, _ in r} & set(t)) for r, t in zip(results, truth, strict=True))
    return round(hits / sum(len(t) for t in truth), 4)


def same_ranking(a: list[tuple[str, float]], b: list[tuple[str, float]]) -> bool:
    """Equal scores rank by rank (1e-6) and equal ids, except the order among tied scores
    and which of the rows tied with the last one made the cut."""
    if len(a) != len(b) or any(abs(x - y) > 1e-6 for (_, x), (_, y) in zip(a, b, strict=True)):
        return False
    if not a:
        return True
    last = min(a[-1][1], b[-1][1]) + 1e-6
    return {i for i, s in a if s > last} == {i for i, s in b if s > last}


def queries_for(args, n_queries: int) -> np.ndarray:
    return vectors_block(10**9, n_queries, args.clusters, args.seed)  # unseen rows


# ----------------------------------------------------------------------------- parts


def measure_vectors(store, args, queries, truth) -> dict:
    """Vector search p50/p95 and recall@10 at the store's settings, unfiltered and with a 1%
    and a 30% filter (exact truth under the same filter)."""
    store.vector_search(queries[0], args.k)  # first search maps the segments
    results, lat = time_each(lambda q: store.vector_search(q, args.k), queries)
    selective = {}
    cut = 0.3 * args.n
    for share, filters, allowed in (
            ("1%", Filters(fields={"bucket": 7}), lambda rows: rows % 100 == 7),
            ("30%", Filters(modified_before=cut), lambda rows: rows < cut)):
        store.vector_search(queries[0], args.k, filters)
        fr, flat = time_each(lambda q, f=filters: store.vector_search(q, args.k, f), queries[:50])
        ftruth = exact_top(args.n, args.batch, args.clusters, args.seed, queries[:50],
                           args.k, allowed)
        selective[share] = {"p50_ms": percentile_ms(flat, 50), "recall@10": recall(fr, ftruth),
                            "min_rows_returned": min(len(r) for r in fr)}
    return {"vector_p50_ms": percentile_ms(lat, 50), "vector_p95_ms": percentile_ms(lat, 95),
            "recall@10": recall(results, truth), "filtered": selective}


def measure_ef(folder: Path, args, queries, truth, settings: AnnSettings) -> list[dict]:
    """Unfiltered p50/p95 and recall@10 at each ``--ef-sweep`` value, on fresh readers."""
    rows = []
    for ef in args.ef_sweep:
        store = open_store(folder, replace(settings, ef_search=ef))
        store.vector_search(queries[0], args.k)
        results, lat = time_each(lambda q, s=store: s.vector_search(q, args.k), queries)
        store.close()
        rows.append({"ef_search": ef, "vector_p50_ms": percentile_ms(lat, 50),
                     "vector_p95_ms": percentile_ms(lat, 95), "recall@10": recall(results, truth)})
        print(f"  ef_search={ef}: {rows[-1]}", file=sys.stderr, flush=True)
    return rows


def part_embedded(args) -> dict:
    settings = AnnSettings()
    settings = replace(settings, m=args.ann_m or settings.m,
                       ef_construction=args.ef_construction or settings.ef_construction)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        folder = args.keep or Path(tmp) / "index"
        store = open_store(folder, settings)
        reused = store.stats()["chunks"] == args.n
        queries = queries_for(args, args.queries)
        truth = exact_top(args.n, args.batch, args.clusters, args.seed, queries, args.k)
        row = {"n": args.n, "dim": DIM, "clusters": args.clusters, "batch": args.batch,
               "ann": settings.__dict__}
        if reused:  # --keep: an index of this size built by an earlier run
            row["reused_index"] = str(folder)
            row["reused_segments"] = store.stats()["segments"]
            # the first pass pages the memory-mapped graph and vectors in; the second is warm
            row["first_pass"] = measure_vectors(store, args, queries, truth)
            row["second_pass"] = measure_vectors(store, args, queries, truth)
        else:
            build_s = fill(store, args.n, args.batch, args.clusters, args.seed)
            stats = store.stats()
            graphs = len(list((folder / "segments").glob("*/hnsw.faiss")))
            built = measure_vectors(store, args, queries, truth)
            exact_store = open_store(folder, AnnSettings(enabled=False))
            exact_store.vector_search(queries[0], args.k)
            exact_results, exact_lat = time_each(lambda q: exact_store.vector_search(q, args.k),
                                             queries[:50])
            exact_store.close()
            row.update({"build_s": round(build_s, 1),
                        "disk_mb": round(stats["bytes"] / 1e6, 1),
                        "segments": stats["segments"], "segments_with_graph": graphs, **built,
                        "exact_p50_ms": percentile_ms(exact_lat, 50),
                        "exact_recall@10": recall(exact_results, truth[:50])})
        if args.optimize and store.stats()["segments"] > 1:  # `ragloop index optimize`
            with Timer() as timer:
                store.writer().optimize()
            optimize_s = timer.seconds
            store.close()
            store = open_store(folder, settings)  # a fresh reader, as a new process would be
            stats = store.stats()
            row["optimized"] = {"optimize_s": round(optimize_s, 1),
                                "disk_mb": round(stats["bytes"] / 1e6, 1),
                                "segments": stats["segments"],
                                **measure_vectors(store, args, queries, truth)}
        store.close()
        if args.ef_sweep:
            row["ef_sweep"] = measure_ef(folder, args, queries, truth, settings)
    return row


def start_postgres(args):
    """The ``--pg-url`` server, or a throwaway one from the tests' ``pgserver`` helper."""
    if args.pg_url:
        return args.pg_url, lambda: None
    spec = importlib.util.spec_from_file_location("pgserver", REPO / "tests" / "pgserver.py")
    pgserver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pgserver)
    url, _, stop = pgserver.start_server()
    return url, stop


def part_postgres(args) -> dict:
    from ragloop.index.postgres import PostgresSettings, PostgresStore

    url, stop = start_postgres(args)
    try:
        store = PostgresStore(PostgresSettings(url=url, schema="bench_scale"))
        build_s = fill(store, args.n, args.batch, args.clusters, args.seed)
        stats = store.stats()
        queries = queries_for(args, args.queries)
        truth = exact_top(args.n, args.batch, args.clusters, args.seed, queries, args.k)
        store.vector_search(queries[0], args.k)
        results, lat = time_each(lambda q: store.vector_search(q, args.k), queries)
        rng = np.random.default_rng(args.seed + 1)
        texts = [" ".join(rng.choice(WORDS[:5000], size=6)) for _ in range(args.queries)]
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            embedded = open_store(Path(tmp) / "index")
            fill(embedded, args.n, args.batch, args.clusters, args.seed)
            pg_lex, lex_lat = time_each(lambda t: store.lexical_search(t, args.k), texts)
            emb_lex, emb_lat = time_each(lambda t: embedded.lexical_search(t, args.k), texts)
            embedded.close()
        same_top = sum(same_ranking(a, b) for a, b in zip(pg_lex, emb_lex, strict=True)
                       ) / len(texts)
        max_diff = max((abs(sa - sb) for a, b in zip(pg_lex, emb_lex, strict=True)
                        for (_, sa), (_, sb) in zip(a, b, strict=False)), default=0.0)
        filters = Filters(fields={"bucket": 7})
        fq = queries[:50]
        fr, flat = time_each(lambda q: store.vector_search(q, args.k, filters), fq)
        ftruth = exact_top(args.n, args.batch, args.clusters, args.seed, fq, args.k,
                           lambda rows: rows % 100 == 7)
        row = {"n": args.n, "dim": DIM, "build_s": round(build_s, 1),
               "disk_mb": round(stats["bytes"] / 1e6, 1),
               "ef_search": store.settings.ef_search,
               "vector_p50_ms": percentile_ms(lat, 50), "vector_p95_ms": percentile_ms(lat, 95),
               "recall@10": recall(results, truth),
               "bm25_p50_ms": percentile_ms(lex_lat, 50), "bm25_p95_ms": percentile_ms(lex_lat, 95),
               "embedded_bm25_p50_ms": percentile_ms(emb_lat, 50),
               "bm25_same_top10_as_embedded": round(same_top, 4),
               "bm25_max_score_diff": max_diff,
               "filtered_1pct_p50_ms": percentile_ms(flat, 50),
               "filtered_1pct_recall@10": recall(fr, ftruth),
               "filtered_1pct_min_rows": min(len(r) for r in fr)}
        store.close()
    finally:
        stop()
    return row


class RandomEmbedder:
    """Seeded random unit vectors, for a lexical-only run that needs no embedding time."""

    model_id, dim = "random", DIM

    def embed_passages(self, texts):
        rng = np.random.default_rng(len(texts))
        x = rng.standard_normal((len(texts), DIM)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    embed_queries = embed_passages


def part_beir(args) -> dict:
    from ragloop.config import EmbedderSettings
    from ragloop.index.postgres import PostgresSettings, PostgresStore
    from ragloop.models.factory import build_embedder
    from ragloop.retrieve.dense import DenseRetriever, QueryEncoder
    from ragloop.retrieve.lexical import BM25Retriever

    folder = args.dataset or dataset("scifact")
    corpus, queries, qrels = load_beir(folder)
    if args.quick:
        corpus, queries, qrels = beir.quick_subset(corpus, queries, qrels)
    qids = sorted(queries)
    embedder = (RandomEmbedder() if args.lexical_only
                else build_embedder(EmbedderSettings(), args.cache))
    url, stop = start_postgres(args)
    row: dict = {"dataset": folder.name, "queries": len(qids),
                 "lexical_only": args.lexical_only}
    try:
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            embedded, _, _ = beir.build_store(Path(tmp) / "index", corpus, embedder, True)
            pg = PostgresStore(PostgresSettings(url=url, schema="bench_beir"))
            with Timer() as timer, pg.writer() as writer:
                for stored in embedded.export():
                    writer.replace_document(*stored.as_args())
            row["postgres_copy_s"] = round(timer.seconds, 1)
            encoder = QueryEncoder(embedder)
            for name, store in (("embedded", embedded), ("postgres", pg)):
                signals = [("bm25", BM25Retriever(store))]
                if not args.lexical_only:
                    signals.append(("dense", DenseRetriever(store, encoder)))
                for kind, retriever in signals:
                    run, lat = beir.collect(lambda text, r=retriever: r.hits(text, beir.DEPTH),
                                            queries)
                    row[f"{name}_{kind}"] = {**beir.evaluate(run, qrels, qids),
                                             "p50_ms": percentile_ms(lat, 50)}
            embedded.close()
            pg.close()
    finally:
        stop()
    return row


def options(ap) -> None:
    ap.add_argument("part", choices=["embedded", "postgres", "beir"])
    ap.add_argument("dataset", type=Path, nargs="?",
                    help="BEIR folder (part beir; default ../shared/datasets/scifact)")
    ap.add_argument("--n", type=int, default=None,
                    help="chunks (default 1000000 embedded, 100000 postgres)")
    ap.add_argument("--batch", type=int, default=50_000, help="documents per commit")
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tmp", type=Path, default=None,
                    help="folder for the temporary index (default: --out)")
    ap.add_argument("--pg-url", default=None, help="an existing server (default: start one)")
    ap.add_argument("--optimize", action="store_true",
                    help="part embedded: also force-merge into one segment and measure again")
    ap.add_argument("--ef-sweep", type=lambda v: [int(x) for x in v.split(",")], default=[],
                    help="part embedded: also measure at these ef_search values, e.g. 128,256")
    ap.add_argument("--ann-m", type=int, default=None, help="graph degree (default: AnnSettings)")
    ap.add_argument("--ef-construction", type=int, default=None)
    ap.add_argument("--keep", type=Path, default=None,
                    help="part embedded: index folder to keep; reused when it holds --n rows")
    ap.add_argument("--tag", default="", help="suffix of the results key (a second run of "
                    "the same size)")
    ap.add_argument("--lexical-only", action="store_true",
                    help="beir: BM25 only, random vectors instead of embedding the corpus")
    ap.add_argument("--cache", type=Path, default=CACHE / "beir-scifact")


def main(argv=None) -> None:
    bench = Bench("scale", __doc__, argv, extra=options,
                  quick_help="20,000 chunks (postgres 5,000) in commits of 5,000, 20 queries; "
                             "beir: 30 queries, BM25 only")
    args = bench.args
    if args.quick:
        args.n = args.n or (20_000 if args.part == "embedded" else 5000)
        args.batch, args.queries, args.lexical_only = 5000, 20, True
    if args.n is None:
        args.n = 1_000_000 if args.part == "embedded" else 100_000
    args.tmp = args.tmp or args.out
    with bench.timed(args.part):
        row = {"embedded": part_embedded, "postgres": part_postgres, "beir": part_beir}[
            args.part](args)
    results = bench.previous()
    key = (f"beir-{row['dataset']}" + ("-lexical" if args.lexical_only else "")
           if args.part == "beir" else f"{args.part}-{args.n}")
    if args.part == "embedded" and (args.ann_m or args.ef_construction):
        key += f"-m{row['ann']['m']}-efc{row['ann']['ef_construction']}"
    key += f"-{args.tag}" if args.tag else ""
    # a run on a kept index adds to the row of the run that built it
    earlier = results.get(key, {}) if row.get("reused_index") else {}
    results[key] = {**earlier, **row, "meta": bench.meta(earlier=earlier.get("meta"))}
    bench.write(results)
    print(json.dumps(row, indent=2))
    flat = {k: v for k, v in row.items() if not isinstance(v, dict | list)}
    print("| " + " | ".join(flat) + " |\n|" + "---|" * len(flat))
    print("| " + " | ".join(str(v) for v in flat.values()) + " |")


if __name__ == "__main__":
    main()
