"""Follow-up questions with and without history: for hand-written two- and three-turn
conversations (``bench/conversation_set.py``) over the bundled docs and Python's
documentation (Debian python3-doc, ``scripts/get-python-docs.sh``), each follow-up is
searched under three ``[chat] condense`` condensers — ``none`` (the follow-up alone),
``carry`` and ``llm`` (the default model, SmolLM2-135M, rewrites it) — side by side in one
run, and the first ``--answers`` follow-ups of each corpus are also answered under each
condenser, in ``--mode`` (``auto``, the default a new project answers in: the router with the
extract floor; ``fast``: one direct pass).

Reported per condenser: follow-up hit@5 and hit@1 over every follow-up (the gold document
among the sources of the top 5 retrieved chunks, or the first) and answer token F1 against
the hand-written reference over the answered ones, all with bootstrap 95% intervals and
paired deltas against ``none``; cost per follow-up (condensing calls, tokens and seconds;
for answered ones the answer's too); for ``llm``, how often its rewrite was rejected (carry used
instead). The history is fixed, as in a golden conversation (``ragloop.evals.datasets``):
each earlier turn answered by its reference, so every condenser sees the same turns. Model
calls are not cached, so each cost is paid.

    python -m bench.conversations [--quick] [--answers 4] [--mode auto]
                                  [--docs /usr/share/doc/python3/html]
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.conversation_set import DEMO, PYTHON, PYTHON_PAGES
from bench.harness import Bench, demo_project, edit_config, project_over, summary

CONDENSERS = ("none", "carry", "llm")
K = 5


def _extra(parser) -> None:
    parser.add_argument("--docs", type=Path, default=Path("/usr/share/doc/python3/html"),
                        help="the python3-doc HTML root")
    parser.add_argument("--answers", type=int, default=4,
                        help="follow-ups per corpus also answered (token F1)")
    parser.add_argument("--mode", default="auto", choices=("auto", "fast", "slow"),
                        help="[answer] mode of the answered follow-ups")
    parser.add_argument("--condensers", default=",".join(CONDENSERS),
                        help="which condensers, comma-separated (none first)")


def _pipeline(pipeline):
    """The same project, model calls uncached (every cost is paid)."""
    from ragloop.pipeline import Pipeline

    project = pipeline.project
    pipeline.close()
    return Pipeline(project, use_cache=False)


def _python_project(out: Path, pages: list[Path], settings: dict):
    """The project over the pages, reused from an earlier run in ``out`` when there (its
    ingest then finds nothing changed)."""
    from ragloop.pipeline import Pipeline
    from ragloop.project import Project

    root = out / "project"
    if not (root / "ragloop.toml").is_file():
        return project_over(out, pages, settings=settings)
    edit_config(root, settings)
    pipeline = Pipeline(Project.load(root))
    pipeline.ingest(pages)
    return pipeline


def _chats(pipeline, names) -> dict:
    from ragloop.chat.engine import Chat

    return {name: Chat(pipeline.settings.chat.model_copy(update={"condense": name}),
                       answerer=pipeline.answerer, llm=pipeline.llm, store=pipeline.store,
                       conversations=lambda: pipeline.conversations)
            for name in names}


def _hit(candidates, gold: str, k: int = K) -> float:
    sources = [c.chunk.metadata.get("source", "") for c in candidates[:k]]
    return float(any(s.endswith(gold) for s in sources))


def run_domain(pipeline, conversations, domain: str, answers: int, names, log
               ) -> list[dict]:
    from ragloop.evals.metrics.answer import token_f1
    from ragloop.models.llm import recorded_calls
    from ragloop.records import AnswerRequest, Conversation, Turn

    chats = _chats(pipeline, names)
    rows = []
    follow_ups = 0
    for n, turns in enumerate(conversations):
        for at in range(1, len(turns)):
            question, gold, reference = turns[at]
            history = Conversation(id=f"{domain}-{n}", turns=tuple(
                Turn(question=q, answer=r) for q, _, r in turns[:at]))
            answered = follow_ups < answers
            follow_ups += 1
            for name, chat in chats.items():
                request = AnswerRequest(question=question, conversation=history)
                t0 = time.perf_counter()
                with recorded_calls() as calls:
                    prepared = chat.prepare(request)
                query = prepared.request.search_query or question
                candidates = pipeline.retrieve(query, k=K)
                condense_s = time.perf_counter() - t0
                condensed = prepared.condensed
                row = {"domain": domain, "conversation": n, "turn": at, "condenser": name,
                       "question": question, "gold": gold,
                       "searched": condensed.text if condensed else question,
                       "used": condensed.condenser if condensed else "none",
                       "rejected": [r.reason for r in condensed.rejected] if condensed
                       else [], "hit5": _hit(candidates, gold),
                       "hit1": _hit(candidates, gold, 1),
                       "condense_calls": len(calls),
                       "condense_tokens": sum(c.prompt_tokens + c.completion_tokens
                                              for c in calls),
                       "condense_s": round(condense_s, 3)}
                if answered:
                    t0 = time.perf_counter()
                    answer = chat.answer(request.model_copy(update={
                        "search_query": prepared.request.search_query}))
                    row.update({"f1": round(token_f1(answer.text, [reference]), 4),
                                "answer": answer.text, "strategy": answer.strategy,
                                "answer_calls": len(answer.calls),
                                "answer_tokens": answer.prompt_tokens
                                + answer.completion_tokens,
                                "answer_s": round(time.perf_counter() - t0, 3)})
                rows.append(row)
                log(row)
    return rows


def aggregate(rows: list[dict], names, samples: int = 2000) -> dict:
    from ragloop.evals.metrics.stats import bootstrap_ci, paired_bootstrap_ci

    def ci(values):
        if not values:
            return None
        mean, low, high = bootstrap_ci(values, samples=samples)
        return {"mean": round(mean, 4), "ci95": [round(low, 4), round(high, 4)]}

    by = {name: [r for r in rows if r["condenser"] == name] for name in names}
    out = {}
    for name, mine in by.items():
        answered = [r for r in mine if "f1" in r]
        entry = {"follow_ups": len(mine), "answered": len(answered),
                 "hit@5": ci([r["hit5"] for r in mine]),
                 "hit@1": ci([r["hit1"] for r in mine]),
                 "token_f1": ci([r["f1"] for r in answered]),
                 "cost_per_follow_up": {
                     "condense_calls": summary([r["condense_calls"] for r in mine]),
                     "condense_tokens": summary([r["condense_tokens"] for r in mine]),
                     "condense_and_search_s": summary([r["condense_s"] for r in mine]),
                     "answer_calls": summary([r["answer_calls"] for r in answered]),
                     "answer_tokens": summary([r["answer_tokens"] for r in answered]),
                     "answer_s": summary([r["answer_s"] for r in answered])}}
        if name != "none" and "none" in by:
            for metric, key in (("hit@5", "hit5"), ("hit@1", "hit1"), ("token_f1", "f1")):
                base = [r for r in by["none"] if key in r]
                if not base:
                    continue
                delta, low, high = paired_bootstrap_ci([r[key] for r in base],
                                                       [r[key] for r in mine if key in r],
                                                       samples=samples)
                entry[f"{metric}_vs_none"] = {"delta": round(delta, 4),
                                              "ci95": [round(low, 4), round(high, 4)]}
        if name == "llm":
            entry["rewrite_rejected"] = sum(r["used"] != "llm" for r in mine)
        out[name] = entry
    return out


def main(argv=None) -> None:
    bench = Bench("conversations", __doc__, argv, extra=_extra,
                  quick_help="3 conversations per corpus, 1 answered")
    args = bench.args
    take = 3 if args.quick else None
    if args.quick:
        args.answers = min(args.answers, 1)
    names = tuple(n.strip() for n in args.condensers.split(",") if n.strip())
    unknown = sorted(set(names) - set(CONDENSERS))
    if unknown:
        raise SystemExit(f"unknown condensers {unknown}; choose from {CONDENSERS}")
    sets = {"bundled_docs": DEMO[:take], "python_docs": PYTHON[:take]}
    pages = [args.docs / p for p in PYTHON_PAGES]
    missing = [str(p) for p in pages if not p.is_file()]
    if missing:
        raise SystemExit(f"missing python3-doc pages (scripts/get-python-docs.sh): {missing}")

    def log(row):
        f1 = f" f1={row['f1']:.2f} {row['answer_s']:5.1f}s" if "f1" in row else ""
        print(f"{row['domain'][:6]} {row['conversation']:2d}.{row['turn']} "
              f"{row['condenser']:5s} hit5={row['hit5']:.0f}{f1} "
              f"{row['condense_s']:5.1f}s  {row['searched'][:70]!r}", flush=True)

    rows = []
    mode = {"answer": {"mode": args.mode}}
    with bench.timed("ingest"):
        demo, _, _ = demo_project(args.out / "demo", settings=mode)
        python = _python_project(args.out / "python", pages, mode)
    for domain, pipeline in (("bundled_docs", demo), ("python_docs", python)):
        with bench.timed(domain), _pipeline(pipeline) as fresh:
            rows += run_domain(fresh, sets[domain], domain, args.answers, names, log)
    results = {
        "what": "follow-up hit@5 and answer token F1 by [chat] condense, default model",
        "answer_mode": args.mode, "answered_per_corpus": args.answers,
        "history": "fixed: earlier turns answered by their references",
        "conversations": {d: len(s) for d, s in sets.items()},
        "python_pages": PYTHON_PAGES, "k": K,
        "condensers": list(names),
        "overall": aggregate(rows, names),
        "by_domain": {d: aggregate([r for r in rows if r["domain"] == d], names)
                      for d in sets},
        "rows": rows}
    bench.write(results)
    for name, entry in results["overall"].items():
        print(name, entry["hit@5"], entry["hit@1"], entry["token_f1"], flush=True)


if __name__ == "__main__":
    main()
