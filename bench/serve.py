"""Serving load: throughput and p50/p95 latency at 1, 8 and 50 concurrent clients against a
real `ragloop serve` process on 127.0.0.1 (real pipeline over the bundled demo corpus).

    python -m bench.serve [--levels 1,8,50] [--requests 8,16,50] [--max-tokens 32]
                          [--queue-size 16] [--modes model,cached] [--distinct 12]
                          [--context-chunks 5] [--n-threads 0]

Two modes, side by side:
  model   the server runs with --no-cache: every request retrieves and generates with the
          embedded model (calls are serialised: the model is not re-entrant);
  cached  the same questions answered from the LLM cache after one warm-up pass: retrieval,
          HTTP, queueing and trace writes only — the serving overhead.

Clients honour 503 + Retry-After (with jitter) and retry, so with queue_size < 50 the 50-client
level must still end with zero failed requests. Latency is per request as a client sees it,
retry waits included. The project answers in ``fast`` mode (the model, not the router).
Prints a table, writes bench/results/serve.json (after every level).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench.harness import Bench, Timer, percentile
from ragloop.demo import demo_corpus_dir
from ragloop.serve.client import Outcome, post_with_retry

TOPICS = ("ingestion", "chunking", "retrieval", "reranking", "answers with citations",
          "streaming", "traces", "feedback", "evaluation reports", "the API key",
          "the OpenAI-compatible endpoint", "incremental sync")
FORMS = ("What does ragloop say about {}?", "How does ragloop handle {}?",
         "Why does ragloop use {}?", "Explain {} in ragloop.", "What is {} for?")
console = Console()


def questions() -> list[str]:
    return [form.format(topic) for topic in TOPICS for form in FORMS]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ragloop(*args: str, background: bool = False, **kwargs):
    command = [str(Path(sys.executable).with_name("ragloop")), *args]
    if background:
        return subprocess.Popen(command, **kwargs)
    return subprocess.run(command, check=True, **kwargs)


CONFIG = """[project]
name = "bench-serve"

[llm]
n_threads = {n_threads}

[answer]
mode = "fast"
max_tokens = {max_tokens}
context_chunks = {context_chunks}
citation_style = "inline"   # token-by-token streaming for the direct strategy

[serve]
queue_size = {queue_size}
"""


def make_project(folder: Path, **settings) -> Path:
    project = folder / "proj"
    project.mkdir(parents=True)
    (project / "ragloop.toml").write_text(CONFIG.format(**settings))
    docs = folder / "docs"
    shutil.copytree(demo_corpus_dir(), docs, ignore=shutil.ignore_patterns("*.jsonl"))
    ragloop("-p", str(project), "ingest", "--quiet", str(docs), stdout=subprocess.DEVNULL)
    return project


def start_server(project: Path, port: int, *, cached: bool, log: Path) -> subprocess.Popen:
    args = ["-p", str(project)] + ([] if cached else ["--no-cache"])
    process = ragloop(*args, "serve", "--port", str(port), "--log-level", "warning",
                      background=True, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not start in 120 s")


async def run_level(base: str, clients: int, n_requests: int, qs: list[str],
                    seed: int) -> tuple[list[Outcome], float]:
    """``clients`` workers share ``n_requests`` questions; returns outcomes and wall time."""
    todo = asyncio.Queue()
    for i in range(n_requests):
        todo.put_nowait(qs[i % len(qs)])
    outcomes: list[Outcome] = []

    async def worker(client: httpx.AsyncClient, rng: random.Random) -> None:
        while not todo.empty():
            question = todo.get_nowait()
            outcomes.append(await post_with_retry(client, "/v1/ask", {"question": question},
                                                  deadline_s=1800, rng=rng))

    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=base, timeout=1800, limits=limits) as client:
        with Timer() as timer:
            await asyncio.gather(*[worker(client, random.Random(seed + i))
                                   for i in range(clients)])
        return outcomes, timer.seconds


def summarise(mode: str, clients: int, outcomes: list[Outcome], wall: float) -> dict:
    ok = [o for o in outcomes if o.status == 200]
    latencies = [o.latency_s for o in ok]
    return {"mode": mode, "clients": clients, "requests": len(outcomes), "ok": len(ok),
            "failed": len(outcomes) - len(ok), "retries_503": sum(o.retries for o in outcomes),
            "wall_s": round(wall, 2), "throughput_rps": round(len(ok) / wall, 3),
            "p50_s": round(percentile(latencies, 50), 3) if latencies else None,
            "p95_s": round(percentile(latencies, 95), 3) if latencies else None,
            "errors": sorted({o.error or str(o.status) for o in outcomes if o.status != 200})}


def report(bench: Bench, levels, sizes, rows, *, final: bool) -> None:
    """Write the JSON (after every level, so an interrupted run keeps what it measured) and,
    at the end, print the table."""
    args = bench.args
    bench.write({
        "complete": final,
        "settings": {"queue_size": args.queue_size, "max_tokens": args.max_tokens,
                     "context_chunks": args.context_chunks, "n_threads": args.n_threads,
                     "distinct_questions": args.distinct, "levels": levels, "requests": sizes,
                     "corpus": "src/ragloop/demo_corpus"},
        "results": rows})
    if not final:
        return
    table = Table(title=f"serving: real pipeline, queue_size={args.queue_size}, "
                        f"max_tokens={args.max_tokens}")
    for name in ("mode", "clients", "requests", "ok", "failed", "503 retries", "req/s",
                 "p50 s", "p95 s"):
        table.add_column(name, justify="right")
    for r in rows:
        table.add_row(r["mode"], str(r["clients"]), str(r["requests"]), str(r["ok"]),
                      str(r["failed"]), str(r["retries_503"]), f"{r['throughput_rps']:.2f}",
                      f"{r['p50_s']:.2f}", f"{r['p95_s']:.2f}")
    console.print(table)


def options(parser) -> None:
    parser.add_argument("--levels", default="1,8,50")
    parser.add_argument("--requests", default="8,16,50",
                        help="requests per level (at least the number of clients)")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--context-chunks", type=int, default=5)
    parser.add_argument("--n-threads", type=int, default=0,
                        help="llama.cpp threads (0: all cores; 1 fares far better when the "
                             "machine is oversubscribed)")
    parser.add_argument("--queue-size", type=int, default=16)
    parser.add_argument("--modes", default="model,cached")
    parser.add_argument("--distinct", type=int, default=12,
                        help="distinct questions, cycled (the cached mode warms each once)")
    parser.add_argument("--seed", type=int, default=0)


def main(argv=None) -> None:
    bench = Bench("serve", __doc__, argv, extra=options,
                  quick_help="cached mode only, 1 and 2 clients, 2 distinct questions")
    args = bench.args
    if args.quick:
        args.levels, args.requests, args.modes, args.distinct = "1,2", "2,2", "cached", 2
    levels = [int(x) for x in args.levels.split(",")]
    sizes = [max(int(x), c) for x, c in zip(args.requests.split(","), levels, strict=True)]
    qs = questions()
    random.Random(args.seed).shuffle(qs)
    qs = qs[:args.distinct]
    rows = []
    with tempfile.TemporaryDirectory(prefix="serve-", dir=args.out) as tmp:
        console.print("building the project (demo corpus, real embedder)…")
        project = make_project(Path(tmp), max_tokens=args.max_tokens,
                               queue_size=args.queue_size, n_threads=args.n_threads,
                               context_chunks=args.context_chunks)
        for mode in args.modes.split(","):
            port = free_port()
            server = start_server(project, port, cached=mode == "cached",
                                  log=Path(tmp) / f"server-{mode}.log")
            base = f"http://127.0.0.1:{port}"
            try:
                if mode == "cached":  # warm the cache with every question once
                    asyncio.run(run_level(base, 1, len(qs), qs, args.seed))
                for clients, n in zip(levels, sizes, strict=True):
                    console.print(f"{mode}: {clients} clients, {n} requests…")
                    outcomes, wall = asyncio.run(run_level(base, clients, n, qs, args.seed))
                    rows.append(summarise(mode, clients, outcomes, wall))
                    console.print(rows[-1])
                    report(bench, levels, sizes, rows, final=False)
            finally:
                server.terminate()
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
    report(bench, levels, sizes, rows, final=True)
    if any(r["failed"] for r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
