"""Follow-up questions with and without history: for hand-written two- and three-turn
conversations (``bench/conversation_set.py``) over the bundled docs and Python's
documentation (Debian python3-doc, ``scripts/get-python-docs.sh``), each follow-up is
answered with the default model and settings under three ``[chat] condense`` condensers —
``none`` (the follow-up searched alone), ``carry`` and ``llm`` — side by side in one run.

Reported per condenser: follow-up hit@5 (the gold document among the sources of the top 5
retrieved chunks), answer token F1 against the hand-written reference, both with bootstrap
95% intervals and paired deltas against ``none``; cost per follow-up (model calls, tokens,
seconds; the condensing calls counted in); for ``llm``, how often its rewrite was rejected
(carry used instead). The first turn is answered once, without history, and shared by the
condensers; each condenser's later turns see its own earlier answers. Model calls are not
cached, so each cost is paid.

    python -m bench.conversations [--quick] [--docs /usr/share/doc/python3/html]
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.conversation_set import DEMO, PYTHON, PYTHON_PAGES
from bench.harness import Bench, demo_project, project_over, summary

CONDENSERS = ("none", "carry", "llm")
K = 5


def _extra(parser) -> None:
    parser.add_argument("--docs", type=Path, default=Path("/usr/share/doc/python3/html"),
                        help="the python3-doc HTML root")


def _pipeline(pipeline):
    """The same project, model calls uncached (every cost is paid)."""
    from ragloop.pipeline import Pipeline

    project = pipeline.project
    pipeline.close()
    return Pipeline(project, use_cache=False)


def _chats(pipeline) -> dict:
    from ragloop.chat.engine import Chat

    return {name: Chat(pipeline.settings.chat.model_copy(update={"condense": name}),
                       answerer=pipeline.answerer, llm=pipeline.llm, store=pipeline.store,
                       conversations=lambda: pipeline.conversations)
            for name in CONDENSERS}


def _hit(answer, gold: str) -> float:
    sources = [c.chunk.metadata.get("source", "") for c in answer.candidates[:K]]
    return float(any(s.endswith(gold) for s in sources))


def run_domain(pipeline, conversations, domain: str, log) -> list[dict]:
    from ragloop.chat.engine import turn_of
    from ragloop.evals.metrics.answer import token_f1
    from ragloop.records import AnswerRequest, Conversation

    chats = _chats(pipeline)
    rows = []
    for n, turns in enumerate(conversations):
        question, gold, reference = turns[0]
        first = pipeline.answer(AnswerRequest(question=question))
        for name, chat in chats.items():
            history = Conversation(id=f"{domain}-{n}", turns=(turn_of(first),))
            for at, (question, gold, reference) in enumerate(turns[1:], start=1):
                t0 = time.perf_counter()
                answer = chat.answer(AnswerRequest(question=question, conversation=history))
                wall = time.perf_counter() - t0
                meta = answer.metadata.get("chat", {})
                rows.append({
                    "domain": domain, "conversation": n, "turn": at, "condenser": name,
                    "question": question, "gold": gold,
                    "searched": meta.get("search_query", question),
                    "used": meta.get("condenser", "none"),
                    "rejected": [r["reason"] for r in meta.get("rejected", [])],
                    "hit5": _hit(answer, gold),
                    "f1": round(token_f1(answer.text, [reference]), 4),
                    "answer": answer.text, "strategy": answer.strategy,
                    "calls": len(answer.calls),
                    "condense_calls": sum(c.purpose == "condense" for c in answer.calls),
                    "tokens": answer.prompt_tokens + answer.completion_tokens,
                    "wall_s": round(wall, 3)})
                history = history.model_copy(update={"turns": (*history.turns,
                                                               turn_of(answer))})
                log(rows[-1])
    return rows


def aggregate(rows: list[dict], samples: int = 2000) -> dict:
    from ragloop.evals.metrics.stats import bootstrap_ci, paired_bootstrap_ci

    def ci(values):
        mean, low, high = bootstrap_ci(values, samples=samples)
        return {"mean": round(mean, 4), "ci95": [round(low, 4), round(high, 4)]}

    by = {name: [r for r in rows if r["condenser"] == name] for name in CONDENSERS}
    out = {}
    for name, mine in by.items():
        entry = {"follow_ups": len(mine), "hit@5": ci([r["hit5"] for r in mine]),
                 "token_f1": ci([r["f1"] for r in mine]),
                 "cost_per_follow_up": {
                     "model_calls": summary([r["calls"] for r in mine]),
                     "condense_calls": summary([r["condense_calls"] for r in mine]),
                     "tokens": summary([r["tokens"] for r in mine]),
                     "wall_s": summary([r["wall_s"] for r in mine])}}
        if name != "none":
            for metric, key in (("hit@5", "hit5"), ("token_f1", "f1")):
                delta, low, high = paired_bootstrap_ci([r[key] for r in by["none"]],
                                                       [r[key] for r in mine],
                                                       samples=samples)
                entry[f"{metric}_vs_none"] = {"delta": round(delta, 4),
                                              "ci95": [round(low, 4), round(high, 4)]}
        if name == "llm":
            entry["rewrite_rejected"] = sum(r["used"] != "llm" for r in mine)
        out[name] = entry
    return out


def main(argv=None) -> None:
    bench = Bench("conversations", __doc__, argv, extra=_extra,
                  quick_help="3 conversations per corpus")
    args = bench.args
    take = 3 if args.quick else None
    sets = {"bundled_docs": DEMO[:take], "python_docs": PYTHON[:take]}
    pages = [args.docs / p for p in PYTHON_PAGES]
    missing = [str(p) for p in pages if not p.is_file()]
    if missing:
        raise SystemExit(f"missing python3-doc pages (scripts/get-python-docs.sh): {missing}")

    def log(row):
        print(f"{row['domain'][:6]} {row['conversation']:2d}.{row['turn']} "
              f"{row['condenser']:5s} hit5={row['hit5']:.0f} f1={row['f1']:.2f} "
              f"{row['wall_s']:5.1f}s  {row['searched'][:70]!r}", flush=True)

    rows = []
    with bench.timed("ingest"):
        demo, _, _ = demo_project(args.out / "demo")
        python = project_over(args.out / "python", pages)
    for domain, pipeline in (("bundled_docs", demo), ("python_docs", python)):
        with bench.timed(domain), _pipeline(pipeline) as fresh:
            rows += run_domain(fresh, sets[domain], domain, log)
    results = {
        "what": "follow-up hit@5 and answer token F1 by [chat] condense, default model",
        "conversations": {d: len(s) for d, s in sets.items()},
        "python_pages": PYTHON_PAGES, "k": K,
        "overall": aggregate(rows),
        "by_domain": {d: aggregate([r for r in rows if r["domain"] == d]) for d in sets},
        "rows": rows}
    bench.write(results)
    for name, entry in results["overall"].items():
        print(name, entry["hit@5"], entry["token_f1"],
              entry["cost_per_follow_up"]["wall_s"].get("mean"), flush=True)


if __name__ == "__main__":
    main()
