"""How the embedded index behaves as it grows: commit cost of a small batch, merge cost,
lexical/vector query latency and resident memory, at increasing sizes.

    python -m bench.index_scale [--docs 200000] [--batch 64] [--checkpoints 5000 50000]

Synthetic documents (Zipf-distributed vocabulary, random unit vectors, 384-d) so that no
embedding time is involved. Writes bench/results/index-scale.json and prints a table.
"""

from __future__ import annotations

import resource
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.harness import Bench, Timer, percentile_ms
from ragloop.index.embedded import open_store
from ragloop.records import Chunk, Document

DIM = 384


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def options(ap) -> None:
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=64, help="documents per commit")
    ap.add_argument("--bulk", type=int, default=5000, help="documents per bulk commit")
    ap.add_argument("--checkpoints", type=int, nargs="*", default=[5000, 50_000, 200_000])


def main(argv=None) -> None:
    bench = Bench("index_scale", __doc__, argv, results="index-scale", extra=options,
                  quick_help="checkpoints at 500 and 2,000 documents")
    args = bench.args
    if args.quick:
        args.docs, args.checkpoints, args.bulk = 2000, [500, 2000], 500
    rng = np.random.default_rng(0)
    words = np.asarray([f"w{i}" for i in range(50_000)])

    def docs(start: int, n: int):
        for i in range(start, start + n):
            text = " ".join(words[np.minimum(rng.zipf(1.3, size=120), len(words)) - 1])
            doc = Document(id=f"d{i}", source=f"s/{i}", title="", text=text,
                           content_hash=str(i))
            chunk = Chunk(id=f"d{i}#0", doc_id=doc.id, ordinal=0, text=text, lexical_text=text)
            vec = rng.standard_normal((1, DIM)).astype(np.float32)
            yield doc, [chunk], vec / np.linalg.norm(vec)

    rows = []
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        store = open_store(Path(tmp) / "index")
        have = 0
        for target in sorted(c for c in args.checkpoints if c <= args.docs):
            while have < target:  # bulk load to the checkpoint
                n = min(args.bulk, target - have)
                with store.writer() as w:
                    for item in docs(have, n):
                        w.replace_document(*item)
                have += n
            commits = []
            for _ in range(5):  # small incremental batches on top
                with Timer() as timer, store.writer() as w:
                    for item in docs(have, args.batch):
                        w.replace_document(*item)
                commits.append(timer.seconds)
                have += args.batch
            queries = [" ".join(rng.choice(words[:5000], size=8)) for _ in range(100)]
            lex, vec = [], []
            for q in queries:
                with Timer() as timer:
                    store.lexical_search(q, 100)
                lex.append(timer.seconds)
                v = rng.standard_normal(DIM).astype(np.float32)
                with Timer() as timer:
                    store.vector_search(v / np.linalg.norm(v), 100)
                vec.append(timer.seconds)
            stats = store.stats()
            row = {"docs": have, "segments": stats["segments"],
                   "commit_batch_ms_median": percentile_ms(commits, 50, 1),
                   "commit_batch_ms_max": round(max(commits) * 1000, 1),
                   "lexical_p50_ms": percentile_ms(lex, 50),
                   "vector_p50_ms": percentile_ms(vec, 50),
                   "disk_mb": round(stats["bytes"] / 1e6, 1), "max_rss_mb": round(rss_mb())}
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
        store.close()
    bench.write({"batch": args.batch, "rows": rows})
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
