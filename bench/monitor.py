"""Does the background monitor slow answers? p50/p95 of `POST /v1/ask` on the real pipeline
(demo corpus, embedded model, no LLM cache) with `[monitor] enabled = false`, and `true` at
each `--idle-s`, blocks interleaved in one run, the same questions in each.

    python -m bench.monitor [--quick] [--repeat 2] [--questions 8] [--gap 1.0]
                            [--idle-s 0.5,3.0]

One client asks in turn and waits `--gap` seconds between answers; latency is the client's.
With the monitor on, a request may arrive while a monitor job (one likelihood pass) holds
the model: that wait is the cost measured. An `idle_s` shorter than the gap lets the monitor
score between answers; a longer one keeps it off the model until the client pauses, and the
monitor catches up then. Also written: how many of the block's traces the monitor scored
while it ran, how long it took to catch up after the block, and per arm the ratio of each
question's latency to its latency in the monitor-off block of the same round.
Writes bench/results/monitor.json.
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
    parser.add_argument("--idle-s", default="0.5,3.0",
                        help="[monitor] idle_s of the monitor-on arms, comma-separated")


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
    bench = Bench("monitor", __doc__, argv, extra=options, repeat=2)
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
    idles = [float(x) for x in args.idle_s.split(",")]
    monitor = pipeline.settings.monitor
    arms = {"off": monitor.model_copy(update={"enabled": False}),
            **{f"on, idle_s={idle:g}": monitor.model_copy(update={"enabled": True, "idle_s": idle})
               for idle in idles}}
    runs: dict[str, list[dict]] = {arm: [] for arm in arms}
    for _ in range(args.repeat):
        for arm, arm_monitor in arms.items():
            with bench.timed(arm):
                runs[arm].append(block(pipeline,
                                       pipeline.settings.model_copy(update={"monitor":
                                                                            arm_monitor}),
                                       pipeline.project.data_dir, questions, args.gap))

    def side(arm: str) -> dict:
        latencies = [s for run in runs[arm] for s in run["latencies"]]
        out = {"answers": len(latencies), "p50_s": round(percentile(latencies, 50), 3),
               "p95_s": round(percentile(latencies, 95), 3),
               "mean_s": round(sum(latencies) / len(latencies), 3)}
        if arm != "off":
            # the same question with the monitor off and on, round by round: each pair's
            # ratio, so a long answer is never compared with a short one
            pairs = [b / a for run_off, run_on in zip(runs["off"], runs[arm], strict=True)
                     for a, b in zip(run_off["latencies"], run_on["latencies"], strict=True)]
            out |= {"scored_during_blocks": sum(r["scored_during"] for r in runs[arm]),
                    "failed": sum(r["failed"] for r in runs[arm]),
                    "caught_up_s": [r["caught_up_s"] for r in runs[arm]],
                    "p50_ratio_to_off": round(out["p50_s"] / off["p50_s"], 3),
                    "p95_ratio_to_off": round(out["p95_s"] / off["p95_s"], 3),
                    "paired_ratio_to_off": {"median": round(percentile(pairs, 50), 3),
                                            "p95": round(percentile(pairs, 95), 3),
                                            "pairs": len(pairs)}}
        return out

    off = side("off")
    results = {"settings": {"questions": args.questions, "gap_s": args.gap,
                            "max_tokens": args.max_tokens, "rounds": args.repeat,
                            "monitor": monitor.model_dump(),
                            "corpus": "ragloop's bundled docs (demo project)"},
               "arms": {arm: off if arm == "off" else side(arm) for arm in arms}}
    print(json.dumps({k: v for k, v in results.items() if k != "settings"}, indent=1))
    bench.write(results)


if __name__ == "__main__":
    main()
