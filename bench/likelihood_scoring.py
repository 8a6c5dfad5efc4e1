"""How fast the llama.cpp backend scores text (``token_logprobs``, the likelihood judge's
only model call), batched as shipped vs. one token per decode (the scorer before batching),
side by side in one process on the same prompts: the shipped labels' faithfulness items, each answer
scored with its context and without (the judge's two calls). Also how far the two agree:
per-token log-prob differences (batched matrix products round differently) and the judge's
per-item gain and verdict at the shipped threshold.

    python -m bench.likelihood_scoring [--repeat 1]

Writes ``bench/results/likelihood-scoring.json``. CPU-heavy: run it alone.
"""

from __future__ import annotations

from bench.harness import Bench
from ragloop.answer.citations import strip_markers
from ragloop.config import LLMSettings
from ragloop.evals.calibrate import load_labels, shipped_labels_path
from ragloop.evals.judge_agreement import likelihood_threshold
from ragloop.evals.likelihood import _SYSTEM
from ragloop.models.factory import build_llm_backend
from ragloop.records import Message


def one_token_a_step(backend, messages: list[Message], continuation: str) -> list[float]:
    """The session-5 scorer, kept here as the reference: the prompt, then one decode per
    continuation token, reading the last position's logits each time."""
    import llama_cpp
    import numpy as np

    model = backend._model
    prompt = backend._chat_formatter(messages=[m.model_dump() for m in messages]).prompt
    prefix = model.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    tokens = model.tokenize(continuation.encode("utf-8"), add_bos=False, special=False)
    model.reset()
    model.eval(prefix)
    n_vocab = model.n_vocab()
    scores = []
    for token in tokens:
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(model.ctx),
                                       shape=(n_vocab,)).astype(np.float64)
        top = logits.max()
        scores.append(float(logits[token] - top - np.log(np.exp(logits - top).sum())))
        model.eval([token])
    return scores


def calls(items) -> list[tuple[str, list[Message], str]]:
    out = []
    system = Message(role="system", content=_SYSTEM)
    for item in items:
        answer = strip_markers(item.answer).strip()
        given = Message(role="user", content=f"Context:\n{item.context.strip()}\n\n"
                                             f"Question: {item.question.strip()}")
        bare = Message(role="user", content=f"Question: {item.question.strip()}")
        out += [(item.id, [system, given], answer), (item.id, [system, bare], answer)]
    return out


def main(argv=None) -> None:
    bench = Bench("likelihood_scoring", __doc__, argv, results="likelihood-scoring", repeat=1,
                  quick_help="the first 4 faithfulness items")
    args = bench.args
    backend = build_llm_backend(LLMSettings())
    items = [i for i in load_labels(shipped_labels_path(), split="all")
             if i.judge == "faithfulness"][:4 if args.quick else None]
    todo = calls(items)
    backend.token_logprobs(todo[0][1], todo[0][2])  # load and warm up outside the clocks
    seconds = {"batched": 0.0, "one token a step": 0.0}
    scored: dict[str, list[list[float]]] = {name: [] for name in seconds}
    for round_ in range(args.repeat):  # alternate, so drift in machine speed hits both
        for name, score in (("one token a step", lambda m, c: one_token_a_step(backend, m, c)),
                            ("batched",
                             lambda m, c: backend.token_logprobs(m, c).logprobs)):
            with bench.timed(name) as timer:
                values = [score(messages, answer) for _, messages, answer in todo]
            seconds[name] += timer.seconds
            if round_ == 0:
                scored[name] = values
    tokens = sum(len(v) for v in scored["batched"])
    diffs = [abs(a - b) for x, y in zip(scored["batched"], scored["one token a step"],
                                        strict=True) for a, b in zip(x, y, strict=True)]
    threshold = likelihood_threshold(None, backend.model_id, "v1")

    def gains(values):
        return [sum(g - b for g, b in zip(values[i], values[i + 1], strict=True))
                / len(values[i]) for i in range(0, len(values), 2)]

    new, old = gains(scored["batched"]), gains(scored["one token a step"])
    flips = sum((a >= threshold) != (b >= threshold) for a, b in zip(new, old, strict=True))
    results = {
        "items": len(items), "calls": len(todo), "tokens_scored": tokens,
        "repeat": args.repeat,
        "seconds": seconds,
        "ms_per_call": {k: 1000 * v / (len(todo) * args.repeat) for k, v in seconds.items()},
        "speedup": seconds["one token a step"] / seconds["batched"],
        "token_logprob_abs_diff": {"max": max(diffs), "mean": sum(diffs) / len(diffs)},
        "gain_abs_diff_max": max(abs(a - b) for a, b in zip(new, old, strict=True)),
        "threshold": threshold, "verdict_flips": flips,
    }
    bench.write(results)
    print(f"\n{len(todo)} scoring calls ({len(items)} faithfulness items × with/without "
          f"context), {tokens} answer tokens, ×{args.repeat}\n")
    print("| scorer | seconds | ms per call |")
    print("|---|---|---|")
    for name in ("one token a step", "batched"):
        print(f"| {name} | {seconds[name]:.1f} | {results['ms_per_call'][name]:.0f} |")
    print(f"\nspeed-up {results['speedup']:.2f}×; per-token log-prob |diff| max "
          f"{max(diffs):.3f}, mean {results['token_logprob_abs_diff']['mean']:.4f}; gain "
          f"|diff| max {results['gain_abs_diff_max']:.3f}; verdicts changed at the "
          f"threshold {threshold:+.2f}: {flips} of {len(items)}")


if __name__ == "__main__":
    main()
