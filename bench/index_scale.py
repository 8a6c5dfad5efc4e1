"""How the embedded index behaves as it grows: commit cost of a small batch, merge cost,
lexical/vector query latency and resident memory, at increasing sizes.

    python bench/index_scale.py [--docs 200000] [--batch 64] [--every 1000]

Synthetic documents (Zipf-distributed vocabulary, random unit vectors, 384-d) so that no
embedding time is involved. Writes bench/results/index-scale.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ragloop.index.embedded import open_store  # noqa: E402
from ragloop.records import Chunk, Document  # noqa: E402

DIM = 384


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=64, help="documents per commit")
    ap.add_argument("--bulk", type=int, default=5000, help="documents per bulk commit")
    ap.add_argument("--checkpoints", type=int, nargs="*", default=[5000, 50_000, 200_000])
    args = ap.parse_args()
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
    with tempfile.TemporaryDirectory() as tmp:
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
                t0 = time.perf_counter()
                with store.writer() as w:
                    for item in docs(have, args.batch):
                        w.replace_document(*item)
                commits.append(time.perf_counter() - t0)
                have += args.batch
            queries = [" ".join(rng.choice(words[:5000], size=8)) for _ in range(100)]
            lex, vec = [], []
            for q in queries:
                t0 = time.perf_counter()
                store.lexical_search(q, 100)
                lex.append(time.perf_counter() - t0)
                v = rng.standard_normal(DIM).astype(np.float32)
                t0 = time.perf_counter()
                store.vector_search(v / np.linalg.norm(v), 100)
                vec.append(time.perf_counter() - t0)
            stats = store.stats()
            row = {"docs": have, "segments": stats["segments"],
                   "commit_batch_ms_median": round(statistics.median(commits) * 1000, 1),
                   "commit_batch_ms_max": round(max(commits) * 1000, 1),
                   "lexical_p50_ms": round(statistics.median(lex) * 1000, 2),
                   "vector_p50_ms": round(statistics.median(vec) * 1000, 2),
                   "disk_mb": round(stats["bytes"] / 1e6, 1), "max_rss_mb": round(rss_mb())}
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
        store.close()
    out = ROOT / "bench" / "results" / "index-scale.json"
    out.write_text(json.dumps({"batch": args.batch, "rows": rows}, indent=2) + "\n")
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
