"""Retrieval quality and speed on any BEIR-format folder, side by side with ``bm25s``.

    python -m bench.beir [../shared/datasets/scifact] [--qrels FILE] [--llm-queries 30]

Reads ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/test.tsv``; one chunk per document.
Reports nDCG@10, Recall@100 and MRR@10 (trec_eval via ``pytrec-eval-terrier``) for BM25,
dense, hybrid RRF, hybrid convex (normalisations, weights), with and without the contextual
header (the title), plus the question index and LLM reranking on a stated subset of queries
(the 135M default model is slow). Fusion weights are chosen on one half of the queries
("tune", odd hash) and reported on the other half ("held-out") as well as on all queries.
Also: index build time, per-query latency p50/p95 (query embedding included) and queries/s
of ragloop's BM25 against ``bm25s`` in the same run. Corpus embeddings are cached on disk
(``--cache``). Writes ``bench/results/beir-<name>.json`` and prints a markdown table.
``--quick``: 30 queries over the documents they judge and the first 500 others, no LLM rows.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytrec_eval

from bench.corpora import load_beir
from bench.harness import CACHE, Bench, Timer, dataset, percentile_ms, time_each
from ragloop.config import EmbedderSettings, LLMSettings, RetrieveSettings
from ragloop.index.embedded import open_store
from ragloop.models.factory import build_embedder, build_llm
from ragloop.records import Chunk, Document, Question, content_hash
from ragloop.retrieve.build import build_retriever
from ragloop.retrieve.dense import DenseRetriever, QueryEncoder
from ragloop.retrieve.fuse import FusionRetriever, convex, rrf
from ragloop.retrieve.hits import Hit
from ragloop.retrieve.lexical import BM25Retriever
from ragloop.retrieve.rerank import RerankingRetriever
from ragloop.retrieve.rerank_llm import LLMReranker

DEPTH = 100
Run = dict[str, list[Hit]]


# ----------------------------------------------------------------------------- data


def passage(doc: dict, header: bool) -> str:
    title = doc.get("title") or ""
    return f"{title}\n\n{doc['text']}" if header and title else doc["text"]


def build_store(path: Path, corpus: list[dict], embedder, header: bool, batch: int = 512):
    """Index the corpus; returns (store, embed seconds, index seconds)."""
    store = open_store(path)
    embed_s = index_s = 0.0
    writer = store.writer()
    for start in range(0, len(corpus), batch):
        docs = corpus[start:start + batch]
        texts = [passage(d, header) for d in docs]
        with Timer() as embedding:
            vectors = embedder.embed_passages(texts)
        with Timer() as indexing:
            for doc, text, vector in zip(docs, texts, vectors, strict=True):
                doc_id = str(doc["_id"])
                document = Document(id=doc_id, source=f"corpus/{doc_id}",
                                    title=doc.get("title", ""), text=doc["text"],
                                    content_hash=content_hash(text))
                chunk = Chunk(id=f"{doc_id}#0", doc_id=doc_id, ordinal=0, text=doc["text"],
                              end=len(doc["text"]),
                              header=doc.get("title", "") if header else "",
                              dense_text=text, lexical_text=text)
                writer.replace_document(document, [chunk], vector[None, :])
            writer.commit()
        index_s += indexing.seconds
        embed_s += embedding.seconds
        print(f"  indexed {start + len(docs)}/{len(corpus)}", file=sys.stderr, flush=True)
    return store, embed_s, index_s


# ----------------------------------------------------------------------------- evaluation


def doc_of(chunk_id: str) -> str:
    return chunk_id.rsplit("#", 1)[0]


def evaluate(run: Run, qrels: dict, qids: list[str]) -> dict[str, float]:
    """Mean nDCG@10, Recall@100, MRR@10 over ``qids`` (a query with no hits scores 0)."""
    sub_qrels = {q: qrels[q] for q in qids}
    full, top10 = {}, {}
    for q in qids:
        docs = list(dict.fromkeys(doc_of(h.chunk_id) for h in run.get(q, [])))
        # strictly decreasing scores keep our order (trec_eval re-sorts by score)
        full[q] = {d: float(len(docs) - i) for i, d in enumerate(docs[:DEPTH])} or {"-": 0.0}
        top10[q] = {d: float(10 - i) for i, d in enumerate(docs[:10])} or {"-": 0.0}
    main = pytrec_eval.RelevanceEvaluator(sub_qrels, {"ndcg_cut.10", "recall.100"})
    mrr = pytrec_eval.RelevanceEvaluator(sub_qrels, {"recip_rank"})
    scores_a, scores_b = main.evaluate(full), mrr.evaluate(top10)
    return {
        "ndcg@10": round(statistics.mean(scores_a[q]["ndcg_cut_10"] for q in qids), 4),
        "recall@100": round(statistics.mean(scores_a[q]["recall_100"] for q in qids), 4),
        "mrr@10": round(statistics.mean(scores_b[q]["recip_rank"] for q in qids), 4),
    }


def collect(fn: Callable[[str], list[Hit]], queries: dict[str, str]) -> tuple[Run, list[float]]:
    hits, latencies = time_each(fn, queries.values())
    return dict(zip(queries, hits, strict=True)), latencies


def fuse_runs(runs: dict[str, Run], how: Callable[[dict], list[Hit]]) -> Run:
    qids = next(iter(runs.values())).keys()
    return {q: how({name: [Hit(h.chunk_id, h.score, dict(h.scores), dict(h.ranks))
                           for h in run[q]] for name, run in runs.items()}) for q in qids}


def p50_p95(latencies: list[float]) -> dict:
    return {"p50_ms": percentile_ms(latencies, 50), "p95_ms": percentile_ms(latencies, 95)}


def split(qids: list[str]) -> tuple[list[str], list[str]]:
    odd = [q for q in qids if int(hashlib.sha256(q.encode()).hexdigest(), 16) % 2]
    return odd, [q for q in qids if q not in set(odd)]


# ----------------------------------------------------------------------------- baselines


def bm25s_baseline(corpus: list[dict], queries: dict[str, str]):
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    with Timer() as building:
        tokens = bm25s.tokenize([passage(d, True) for d in corpus], stopwords="en",
                                stemmer=stemmer, show_progress=False)
        model = bm25s.BM25()
        model.index(tokens, show_progress=False)
    build_s = building.seconds
    ids = [str(d["_id"]) for d in corpus]

    def search(text: str) -> list[Hit]:
        q = bm25s.tokenize([text], stopwords="en", stemmer=stemmer, show_progress=False)
        if not q.vocab:
            return []
        docs, scores = model.retrieve(q, k=DEPTH, show_progress=False, n_threads=1)
        return [Hit(f"{ids[d]}#0", float(s)) for d, s in zip(docs[0], scores[0], strict=True)
                if s > 0]

    run, latencies = collect(search, queries)
    return run, latencies, build_s


# ----------------------------------------------------------------------------- main


def options(ap) -> None:
    ap.add_argument("dataset", type=Path, nargs="?", default=None,
                    help="BEIR folder (default: ../shared/datasets/scifact)")
    ap.add_argument("--qrels", type=Path, default=None)
    ap.add_argument("--cache", type=Path, default=CACHE / "beir-scifact",
                    help="embedding cache folder (kept between runs)")
    ap.add_argument("--llm-queries", type=int, default=30,
                    help="queries for question-index and rerank rows (0 = skip)")
    ap.add_argument("--rerank-depth", type=int, default=10)
    ap.add_argument("--llm-threads", type=int, default=0,
                    help="llama.cpp threads (0 = all cores; 1 is faster on a busy machine)")
    ap.add_argument("--questions-pool", type=int, default=10,
                    help="question index built for the top-N fused docs of each LLM query")


def quick_subset(corpus: list[dict], queries: dict, qrels: dict, n_queries: int = 30,
                 n_others: int = 500):
    """The first ``n_queries`` judged queries, over the documents they judge and the first
    ``n_others`` others: a run of seconds that exercises every row but the LLM ones."""
    queries = dict(list(queries.items())[:n_queries])
    judged = {doc for q in queries for doc in qrels[q]}
    corpus = [d for i, d in enumerate(corpus) if str(d["_id"]) in judged or i < n_others]
    return corpus, queries, {q: qrels[q] for q in queries}


def main(argv=None) -> None:
    bench = Bench("beir", __doc__, argv, extra=options)
    args = bench.args
    folder = args.dataset or dataset("scifact")
    if args.quick:
        args.llm_queries = 0
    name = folder.resolve().name
    stem = f"beir-{name}"
    corpus, queries, qrels = load_beir(folder, args.qrels)
    if args.quick:
        corpus, queries, qrels = quick_subset(corpus, queries, qrels)
    qids = list(queries)
    tune, held = split(qids)
    print(f"{name}: {len(corpus)} docs, {len(queries)} judged queries "
          f"(tune {len(tune)} / held-out {len(held)})", file=sys.stderr)
    embedder = build_embedder(EmbedderSettings(), args.cache)
    results: dict = {"dataset": name, "docs": len(corpus), "queries": len(queries),
                     "embedder": embedder.model_id, "rows": {}, "timing": {}}
    rows = results["rows"]

    def record(label: str, run: Run, note: str = "", subset: list[str] | None = None):
        use = subset or qids
        row = {"all": evaluate(run, qrels, use), "note": note, "queries": len(use)}
        if subset is None:
            row["tune"] = evaluate(run, qrels, tune)
            row["held_out"] = evaluate(run, qrels, held)
        rows[label] = row
        print(f"  {label}: {row['all']}", file=sys.stderr, flush=True)

    with bench.timed("bm25s_baseline"):
        base_run, base_lat, base_build = bm25s_baseline(corpus, queries)
    record("bm25s (title+text, stopwords, stemming)", base_run, "external baseline")
    results["timing"]["bm25s"] = {"build_s": round(base_build, 2),
                                  "p50_ms": percentile_ms(base_lat, 50),
                                  "qps": round(len(base_lat) / sum(base_lat), 1)}

    with tempfile.TemporaryDirectory() as tmp:
        stores, signal_runs = {}, {}
        for header in (False, True):
            tag = "title+text" if header else "text"
            with bench.timed(f"index_{tag}"):
                store, embed_s, index_s = build_store(Path(tmp) / tag, corpus, embedder,
                                                      header)
            stores[tag] = store
            results["timing"][f"index_build_{tag}"] = {"index_s": round(index_s, 2),
                                                      "embed_s_cached": round(embed_s, 2)}
            encoder = QueryEncoder(embedder)
            bm25 = BM25Retriever(store)
            dense = DenseRetriever(store, encoder)
            runs = {}
            runs["bm25"], lat = collect(lambda q, r=bm25: r.hits(q, DEPTH), queries)
            results["timing"][f"bm25_{tag}"] = {**p50_p95(lat),
                                                "qps": round(len(lat) / sum(lat), 1)}
            runs["dense"], lat = collect(lambda q, r=dense: r.hits(q, DEPTH), queries)
            results["timing"][f"dense_{tag}"] = p50_p95(lat)
            signal_runs[tag] = runs
            record(f"BM25 ({tag})", runs["bm25"])
            record(f"dense ({tag})", runs["dense"])
            record(f"hybrid RRF k=60 ({tag})", fuse_runs(runs, lambda r: rrf(r, k=60)))
            record(f"hybrid convex minmax 0.5/0.5 ({tag})", fuse_runs(runs, convex))

        runs = signal_runs["title+text"]
        sweep = {}
        for norm in ("minmax", "zscore", "dbsf"):
            for w in (0.2, 0.3, 0.4, 0.5, 0.6):
                weights = {"bm25": w, "dense": 1 - w}
                fused = fuse_runs(runs, lambda r, n=norm, ws=weights: convex(
                    r, normalization=n, weights=ws))
                sweep[(norm, w)] = fused
                label = f"convex {norm} bm25={w:.1f}/dense={1 - w:.1f} (title+text)"
                record(label, fused, "weight sweep")
        for k in (10, 60):
            for w in (0.3, 0.5):
                weights = {"bm25": w, "dense": 1 - w}
                record(f"RRF k={k} bm25={w:.1f}/dense={1 - w:.1f} (title+text)",
                       fuse_runs(runs, lambda r, kk=k, ws=weights: rrf(r, k=kk, weights=ws)),
                       "weight sweep")
        best = max(sweep, key=lambda key: evaluate(sweep[key], qrels, tune)["ndcg@10"])
        results["chosen_on_tune_half"] = {"normalization": best[0], "bm25_weight": best[1]}
        print(f"  chosen on tune half: {best}", file=sys.stderr)

        # end-to-end latency of the configured retriever (defaults), query embedding included
        store = stores["title+text"]
        settings = RetrieveSettings()
        fresh = build_embedder(EmbedderSettings(), args.cache)
        retriever = build_retriever(settings, store, fresh, None)
        def embed_only(q: str) -> list[Hit]:
            fresh.embed_queries([q])
            return []

        _, embed_lat = collect(embed_only, queries)
        results["timing"]["query_embedding_alone"] = p50_p95(embed_lat)
        default_run, lat = collect(lambda q: retriever.hits(q, DEPTH), queries)
        record(f"defaults: {settings.fusion} {settings.normalization} "
               f"{settings.weights or 'equal weights'} (title+text)", default_run,
               "the shipped [retrieve] defaults, end to end")
        results["timing"]["hybrid_default_end_to_end"] = p50_p95(lat)

        # the same fused search with query vectors computed beforehand: the search alone
        warm = QueryEncoder(embedder, size=len(queries) + 1)
        for text in queries.values():
            warm(text)
        search_only = FusionRetriever(
            [BM25Retriever(store), DenseRetriever(store, warm)], method=settings.fusion,
            depth=settings.depth, weights=settings.weights, rrf_k=settings.rrf_k,
            normalization=settings.normalization)
        _, lat = collect(lambda q: search_only.hits(q, DEPTH), queries)
        results["timing"]["hybrid_default_search_only"] = p50_p95(lat)

        if not args.llm_queries and not args.quick:
            carry_over(bench.previous(stem), results)
        bench.write(results, stem)
        print(markdown(results), flush=True)
        if args.llm_queries:  # slow with the default model: the rows above are saved first
            llm_rows(args, results, record, store, embedder, corpus, queries, qids, qrels,
                     sweep[best], best)
            bench.write(results, stem)
            print(markdown(results))


def llm_rows(args, results, record, store, embedder, corpus, queries, qids, qrels,
             best_run: Run, best: tuple) -> None:
    """Question index and LLM reranking on a subset of queries (the 135M model is slow)."""
    from ragloop.ingest.enrich import Enricher

    subset = sorted(qids, key=lambda q: hashlib.sha256(q.encode()).hexdigest())[
        :args.llm_queries]
    llm = build_llm(LLMSettings(n_threads=args.llm_threads), args.cache)
    sub_queries = {q: queries[q] for q in subset}
    record(f"best convex {best[0]} bm25={best[1]} (subset)", best_run,
           "same subset as the LLM rows", subset)
    norm, w = best
    weights = {"bm25": w, "dense": 1 - w}

    # rerank the best fused list
    settings = RetrieveSettings(normalization=norm, weights=weights)
    first = build_retriever(settings, store, embedder, None)
    reranker = LLMReranker(llm)
    reranked = RerankingRetriever(first, reranker, depth=args.rerank_depth)
    run, lat = collect(lambda q: reranked.hits(q, DEPTH), sub_queries)
    record(f"+ LLM rerank top-{args.rerank_depth} ({llm.model_id})", run,
           f"weight 1.0; {reranker.failures} failed grades", subset)
    half = RerankingRetriever(first, reranker, depth=args.rerank_depth, weight=0.5)
    run, _ = collect(lambda q: half.hits(q, DEPTH), sub_queries)  # grades are cached
    record(f"+ LLM rerank top-{args.rerank_depth}, weight 0.5", run, "", subset)
    results["timing"]["llm_rerank"] = {**p50_p95(lat),
                                       "queries": len(subset)}

    # question index over the pool of top documents of the subset's queries
    pool = list(dict.fromkeys(doc_of(h.chunk_id) for q in subset
                              for h in best_run[q][:args.questions_pool]))
    by_id = {str(d["_id"]): d for d in corpus}
    enricher = Enricher(llm, contextual=False, questions_per_chunk=3)
    with Timer() as generating:
        writer = store.writer()
        n_questions = 0
        for doc_id in pool:
            doc = by_id[doc_id]
            chunk = store.get_chunks([f"{doc_id}#0"])[0]
            document = Document(id=doc_id, source=f"corpus/{doc_id}", title=doc.get("title", ""),
                                text=doc["text"], content_hash=content_hash(chunk.dense_text))
            questions: list[Question] = enricher.questions(document, chunk)
            n_questions += len(questions)
            qvecs = embedder.embed_passages([q.text for q in questions]) if questions else None
            writer.replace_document(document, [chunk], embedder.embed_passages([chunk.dense_text]),
                                    questions, qvecs)
        writer.commit()
    gen_s = generating.seconds
    results["timing"]["question_generation"] = {
        "docs": len(pool), "questions": n_questions, "seconds": round(gen_s, 1),
        "s_per_doc": round(gen_s / max(len(pool), 1), 2)}
    for signals in (("bm25", "dense", "questions_bm25", "questions_dense"),
                    ("bm25", "dense", "questions_dense")):
        weights_q = {**weights, **{s: 0.2 for s in signals if s.startswith("questions")}}
        retr = build_retriever(RetrieveSettings(retrievers=signals, normalization=norm,
                                                weights=weights_q), store, embedder, None)
        run, _ = collect(lambda q, r=retr: r.hits(q, DEPTH), sub_queries)
        record(f"+ question index {'+'.join(s for s in signals if 'questions' in s)} "
               f"(w 0.2 each)", run,
               f"questions for the top-{args.questions_pool} pool of the subset "
               f"({len(pool)} docs)", subset)
    results["question_examples"] = [q.text for q in store.get_questions(
        [f"{pool[0]}#0#q{i}" for i in range(3)])]


def carry_over(previous: dict, results: dict) -> None:
    """Keep the (slow) LLM rows of the previous run when this run skips them, marked so (the
    previous run's commit goes into ``meta.earlier_runs``)."""
    for label, row in previous.get("rows", {}).items():
        if row.get("queries", 0) < results["queries"] and label not in results["rows"]:
            note = row.get("note", "")
            if "previous run" not in note:
                note = f"{note}; from the previous run".lstrip("; ")
            results["rows"][label] = {**row, "note": note}
    for key in ("llm_rerank", "question_generation"):
        if key in previous.get("timing", {}):
            results["timing"][key] = previous["timing"][key]
    if "question_examples" in previous:
        results["question_examples"] = previous["question_examples"]
    if "meta" in previous:
        results["meta"] = previous["meta"]


def markdown(results: dict) -> str:
    lines = [f"BEIR {results['dataset']}: {results['docs']} docs, {results['queries']} queries; "
             f"embedder {results['embedder']}.", "",
             "| configuration | queries | nDCG@10 | Recall@100 | MRR@10 | nDCG@10 held-out |",
             "|---|---|---|---|---|---|"]
    for label, row in results["rows"].items():
        a = row["all"]
        held = row.get("held_out", {}).get("ndcg@10", "")
        lines.append(f"| {label} | {row['queries']} | {a['ndcg@10']:.3f} | "
                     f"{a['recall@100']:.3f} | {a['mrr@10']:.3f} | {held} |")
    lines += ["", "| timing | value |", "|---|---|"]
    for key, value in results["timing"].items():
        lines.append(f"| {key} | {json.dumps(value)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
