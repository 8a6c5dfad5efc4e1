"""Does the embedded 135M model hold any PubMedQA signal a tuner could find? A diagnostic,
not a ragloop feature: the base model reads each question's grounded prompt (built exactly
as the pipeline builds it, retrieval included) and

- **zero-shot**: the label whose first token is likeliest right after ``{"answer": "``;
- **calibrated**: a multinomial logistic regression on those three label log-probabilities,
  fitted on the 500 train-split questions;
- **PMI**: the same label log-probabilities minus those the model gives the same prompt with
  no documents (contextual calibration, Zhao et al. 2021: what the abstract adds over the
  question's own prior), read zero-shot and through the regression on both sets;
- **probe**: the same regression on the model's hidden states (last prompt token at three
  depths, and the mean over the prompt at mid depth), L2 chosen by 5-fold cross-validation
  on the train split; plain and class-balanced; and the probe with the PMI features beside it.

Scored on the 500 official test questions. If a linear read-out of the frozen model cannot
beat the majority baseline, LoRA on 500 examples is not expected to either — that is the
question this answers. Needs the ``[train]`` extra (torch, transformers) and the project
``bench.posttrain`` ingests (the same ``--out``). CPU-heavy: run it alone.

Features are kept in ``OUT/probe-features.pt`` (keyed by model and prompts), so a re-run
fits read-outs without the forward passes.

    python -m bench.pubmedqa_probe [--out /tmp/ragloop-bench-posttrain]
"""

from __future__ import annotations

import hashlib
import json

from bench.corpora import pubmedqa_data, pubmedqa_project
from bench.harness import Bench
from bench.posttrain import WORKDIR, project_settings
from ragloop.answer.prompt import answer_messages
from ragloop.evals.import_pubmedqa import LABELS, iter_pubmedqa_examples
from ragloop.evals.metrics.answer import label_scores
from ragloop.train.base import load_base, prepare_base
from ragloop.train.prompts import answer_instruction, dataset_labels, grounded_prompt
from ragloop.train.trainer import configured_base

ASSISTANT_PREFIX = '{"answer": "'


def features(model, tokenizer, prompts: list[list[dict]], label_ids: list[int]):
    """(label log-probabilities [n, 3], hidden-state features [n, d]) for each prompt."""
    import torch

    layers = model.config.num_hidden_layers
    depths = (layers // 2, (3 * layers) // 4, layers)
    logprobs, hidden = [], []
    with torch.inference_mode():
        for n, messages in enumerate(prompts, 1):
            text = tokenizer.apply_chat_template(messages, tokenize=False,
                                                 add_generation_prompt=True)
            ids = tokenizer(text + ASSISTANT_PREFIX, return_tensors="pt",
                            add_special_tokens=False)
            out = model(**ids, output_hidden_states=True)
            last = out.logits[0, -1].log_softmax(-1)
            logprobs.append(last[label_ids])
            states = out.hidden_states
            hidden.append(torch.cat([*(states[d][0, -1] for d in depths),
                                     states[depths[0]][0].mean(0)]))
            if n % 100 == 0:
                print(f"  {n}/{len(prompts)} prompts", flush=True)
    return torch.stack(logprobs), torch.stack(hidden)


def fit_logistic(x, y, weight_decay: float, balanced: bool, steps: int = 200):
    """Multinomial logistic regression (standardised inputs, L2), fitted with L-BFGS."""
    import torch

    mean, std = x.mean(0), x.std(0) + 1e-6
    xs = (x - mean) / std
    classes = len(LABELS)
    counts = torch.bincount(y, minlength=classes).float()
    weights = (counts.sum() / (classes * counts.clamp(min=1))) if balanced else None
    w = torch.zeros(xs.shape[1], classes, requires_grad=True)
    b = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)

    def closure():
        opt.zero_grad()
        loss = loss_fn(xs @ w + b, y) + weight_decay * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w, b = w.detach(), b.detach()
    return lambda z: ((z - mean) / std @ w + b).argmax(1)


def cross_validated(x, y, balanced: bool, folds: int = 5) -> tuple[float, float]:
    """(best L2, its mean cross-validated macro-F1) over a small grid."""
    import torch

    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    best = (0.0, -1.0)
    for decay in (1e-4, 1e-3, 1e-2, 1e-1):
        f1s = []
        for k in range(folds):
            held = order[k::folds]
            keep = torch.ones(len(y), dtype=torch.bool)
            keep[held] = False
            predict = fit_logistic(x[keep], y[keep], decay, balanced)
            pred = predict(x[held])
            f1s.append(label_scores([LABELS[i] for i in y[held]],
                                    [LABELS[i] for i in pred], LABELS)["macro_f1"])
        score = sum(f1s) / folds
        if score > best[1]:
            best = (decay, score)
    return best


def scored(gold: list[str], pred: list[str]) -> dict:
    s = label_scores(gold, pred, LABELS)
    accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
    return {"accuracy": accuracy, "macro_f1": s["macro_f1"],
            "prediction_distribution": s["prediction_distribution"]}


def main(argv=None) -> None:
    bench = Bench("pubmedqa_probe", __doc__, argv, results="pubmedqa-probe", out=WORKDIR,
                  quick_help="the first 25 questions of each split")
    args = bench.args

    import torch

    torch.manual_seed(0)
    with bench.timed("ingest"):  # incremental: a re-run embeds nothing
        pipeline, _ = pubmedqa_project(args.out,
                                       settings=project_settings(context_chunks=2, workers=1))
    project = pipeline.project
    splits = {s: list(iter_pubmedqa_examples(pubmedqa_data(), split=s))[:25 if args.quick
                                                                         else None]
              for s in ("train", "test")}
    labels = dataset_labels(splits["train"])
    with bench.timed("prompts") as timer:
        prompts = {s: [grounded_prompt(pipeline, e.question, answer_instruction(e, labels))[0]
                       for e in examples] for s, examples in splits.items()}
    prompt_seconds = timer.seconds

    base = prepare_base(configured_base(project), project.data_dir / "train" / "base")
    model, tokenizer = load_base(base)
    model.eval()
    label_ids = [tokenizer.encode(label.capitalize(), add_special_tokens=False)[0]
                 for label in LABELS]
    # the same prompt with no documents: the question's own prior over the labels
    style = pipeline.settings.answer.citation_style
    bare = {s: [[m.model_dump() for m in answer_messages(
                e.question, [], style=style, answer_instruction=answer_instruction(e, labels))]
                for e in examples] for s, examples in splits.items()}
    features_key = hashlib.sha256(json.dumps([str(base.gguf or base.hf_dir), prompts, bare],
                                             sort_keys=True).encode()).hexdigest()
    cache = args.out / "probe-features.pt"
    with bench.timed("forward") as timer:
        stored = torch.load(cache) if cache.exists() else {}
        if stored.get("key") == features_key:
            feats = stored["features"]
            print(f"features from {cache}")
        else:
            feats = {}
            for s in splits:
                with_docs, hidden = features(model, tokenizer, prompts[s], label_ids)
                without_docs, _ = features(model, tokenizer, bare[s], label_ids)
                feats[s] = {"label": with_docs, "bare": without_docs, "hidden": hidden}
            torch.save({"key": features_key, "features": feats}, cache)
    forward_seconds = timer.seconds

    y = {s: torch.tensor([LABELS.index(e.label) for e in ex]) for s, ex in splits.items()}
    gold = [e.label for e in splits["test"]]
    results: dict = {"majority": scored(gold, ["yes"] * len(gold))}
    zero = feats["test"]["label"].argmax(1)
    results["zero-shot"] = scored(gold, [LABELS[i] for i in zero])
    pmi = {s: f["label"] - f["bare"] for s, f in feats.items()}
    results["PMI zero-shot"] = scored(gold, [LABELS[i] for i in pmi["test"].argmax(1)])
    readouts = {
        "calibrated": lambda s: feats[s]["label"],
        "PMI calibrated": lambda s: torch.cat([feats[s]["label"], feats[s]["bare"]], 1),
        "probe": lambda s: feats[s]["hidden"],
        "probe + PMI": lambda s: torch.cat([feats[s]["hidden"], feats[s]["label"],
                                             feats[s]["bare"]], 1),
    }
    for name, columns in readouts.items():
        for balanced in (False, True):
            decay, cv_f1 = cross_validated(columns("train"), y["train"], balanced)
            predict = fit_logistic(columns("train"), y["train"], decay, balanced)
            pred = predict(columns("test"))
            key = f"{name}{' balanced' if balanced else ''}"
            results[key] = {**scored(gold, [LABELS[i] for i in pred]),
                            "l2": decay, "cv_macro_f1": cv_f1}

    report = {"dataset": "PubMedQA PQA-L: fit on the 500 train-split questions, scored on "
                         "the 500 official test questions",
              "model": str(base.gguf.name if base.gguf else base.hf_dir),
              "prompt_seconds": prompt_seconds, "forward_seconds": forward_seconds,
              "feature_dims": int(feats["test"]["hidden"].shape[1]), "results": results}
    bench.write(report)
    print(f"\n{'read-out':<22} {'accuracy':>9} {'macro-F1':>9}  predictions")
    for key, r in results.items():
        print(f"{key:<22} {r['accuracy']:>9.3f} {r['macro_f1']:>9.3f}  "
              f"{r['prediction_distribution']}")
    n_prompts = sum(len(p) for p in prompts.values())
    print(f"\nforward passes: {forward_seconds:.0f} s for {n_prompts} prompts with and "
          "without documents")


if __name__ == "__main__":
    main()
