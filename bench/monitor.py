"""Does the background monitor slow answers? p50/p95 of `POST /v1/ask` on the real pipeline
(demo corpus, embedded model, no LLM cache) with `[monitor] enabled = false` and `true`,
blocks interleaved in one run, the same questions in each.

    python -m bench.monitor [--quick] [--repeat 2] [--questions 8] [--gap 1.0]

One client asks in turn and waits `--gap` seconds between answers (longer than `[monitor]
idle_s`, so the monitor gets its quiet moments, as under real traffic with pauses); latency
is the client's. With the monitor on, a request may arrive while a monitor job (the
likelihood judge: two short model passes) holds the model: that wait is the cost measured.
Also written: how many of the block's traces the monitor scored while it ran, and how long
it took to catch up after the block. Writes bench/results/monitor.json.
"""

from __future__ import annotations

import json
import time

from fastapi.testclient import TestClient

from bench.harness import Bench, demo_project, percentile

LOCAL = "http://127.0.0.1"


def options(parser) -> None:
    parser.add_argument("--questions", type=int, default=8, help="questions per block")
    parser.add_argument("--gap", type=float, default=1.0,
                        help="seconds the client waits between answers")
    parser.add_argument("--max-tokens", type=int, default=32)


def block(pipeline, settings, data_dir, questions, gap: float) -> dict:
    from ragloop.serve.app import create_app

    latencies = []
    with TestClient(create_app(pipeline, settings, data_dir=data_dir),
                    base_url=LOCAL) as client:
        for question in questions:
            start = time.perf_counter()
            response = client.post("/v1/ask", json={"question": question})
            latencies.append(time.perf_counter() - start)
            response.raise_for_status()
            time.sleep(gap)
        during = client.get("/v1/monitor/status").json()
        caught_up_s = None
        if settings.monitor.enabled:
            start = time.perf_counter()
            while (status := client.get("/v1/monitor/status").json())["lag"]:
                if time.perf_counter() - start > 60:  # recorded as not caught up
                    break
                time.sleep(0.1)
            caught_up_s = round(time.perf_counter() - start, 2) if not status["lag"] else None
    return {"latencies": latencies, "scored_during": during.get("scored", 0),
            "failed": during.get("failed", 0), "caught_up_s": caught_up_s}


def main(argv=None) -> None:
    bench = Bench("monitor", __doc__, argv, extra=options)
    args = bench.args
    if args.quick:
        args.questions, args.repeat = 3, 1
    from ragloop.pipeline import Pipeline
    from ragloop.records import EvalExample

    with bench.timed("setup"):
        built, _, golden = demo_project(args.out / "demo",
                                        settings={"answer": {"max_tokens": args.max_tokens}})
        pipeline = Pipeline(built.project, use_cache=False)  # every answer calls the model
        questions = [EvalExample.model_validate_json(line).question
                     for line in golden.read_text(encoding="utf-8").splitlines()
                     if line.strip()][:args.questions]
        pipeline.ask(questions[0])  # load the models before the first timed block
    settings = {on: pipeline.settings.model_copy(update={"monitor": pipeline.settings.monitor
                                                         .model_copy(update={"enabled": on})})
                for on in (False, True)}
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for _ in range(args.repeat):
        for on in (False, True):
            with bench.timed("monitor on" if on else "monitor off"):
                runs[on].append(block(pipeline, settings[on], pipeline.project.data_dir,
                                      questions, args.gap))

    def side(on: bool) -> dict:
        latencies = [s for run in runs[on] for s in run["latencies"]]
        out = {"answers": len(latencies), "p50_s": round(percentile(latencies, 50), 3),
               "p95_s": round(percentile(latencies, 95), 3),
               "mean_s": round(sum(latencies) / len(latencies), 3)}
        if on:
            out |= {"scored_during_blocks": sum(r["scored_during"] for r in runs[on]),
                    "failed": sum(r["failed"] for r in runs[on]),
                    "caught_up_s": [r["caught_up_s"] for r in runs[on]]}
        return out

    off, on = side(False), side(True)
    results = {"settings": {"questions": args.questions, "gap_s": args.gap,
                            "max_tokens": args.max_tokens, "rounds": args.repeat,
                            "monitor": pipeline.settings.monitor.model_dump(),
                            "corpus": "ragloop's bundled docs (demo project)"},
               "monitor_off": off, "monitor_on": on,
               "p50_ratio_on_off": round(on["p50_s"] / off["p50_s"], 3),
               "p95_ratio_on_off": round(on["p95_s"] / off["p95_s"], 3)}
    print(json.dumps({k: v for k, v in results.items() if k != "settings"}, indent=1))
    bench.write(results)


if __name__ == "__main__":
    main()
