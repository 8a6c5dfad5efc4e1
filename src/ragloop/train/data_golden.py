"""Training rows from a golden set's train split (e.g. PubMedQA's 500 labelled questions
outside the official test split).

The target answer starts with the gold label and goes on with the first sentence of the
reference answer (``reason=False``: the label alone, so the loss is not spread over a
sentence the context may not support), citing the retrieved passages of the gold documents.
Labels can be balanced — a label-skewed set (PubMedQA is 55% "yes") collapsed the 135M
model to always "yes" in a first probe — by oversampling the rarer labels (seeded) or
undersampling the common ones. DPO/KTO rows pair the gold answer with the same answer
under each wrong label.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence

from ragloop.records import EvalExample
from ragloop.train.prompts import (
    answer_content,
    answer_instruction,
    dataset_labels,
    grounded_prompt,
)

BALANCE = ("none", "oversample", "undersample")
MAX_ANSWER_CHARS = 280  # the JSON answer schema allows 300
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")  # also splits contexts for judge rows


def balance_examples(examples: Sequence[EvalExample], how: str, seed: int = 0, *,
                     per_label: int | None = None) -> list[EvalExample]:
    """Equal counts per label: the largest label's count ("oversample": rarer labels
    repeated), the smallest's ("undersample"), or ``per_label`` (either, as needed)."""
    if how not in BALANCE:
        raise ValueError(f"balance must be one of {', '.join(BALANCE)}, got {how!r}")
    labelled = [e for e in examples if e.label is not None]
    if how == "none" or not labelled:
        return list(examples)
    by_label: dict[str, list[EvalExample]] = {}
    for example in labelled:
        by_label.setdefault(example.label, []).append(example)
    rng = random.Random(seed)
    sizes = [len(v) for v in by_label.values()]
    target = per_label or (max(sizes) if how == "oversample" else min(sizes))
    chosen: list[EvalExample] = []
    for label in sorted(by_label):
        group = by_label[label]
        if target <= len(group):
            chosen += rng.sample(group, target)
        else:
            chosen += group + [rng.choice(group) for _ in range(target - len(group))]
    rng.shuffle(chosen)
    return chosen


def target_text(label: str | None, reference: str, *, reason: bool = True) -> str:
    sentence = SENTENCE_BREAK.split(reference.strip())[0] if reference.strip() else ""
    if label and not reason:
        return f"{label.capitalize()}."
    text = f"{label.capitalize()}. {sentence}" if label else sentence
    return text[:MAX_ANSWER_CHARS].rstrip()


def golden_rows(pipeline, examples: Sequence[EvalExample], *, fmt: str = "sft",
                reason: bool = True, on_example: Callable[[], None] | None = None
                ) -> Iterator[dict]:
    """TRL rows (with ``id``) for ``examples``; every example needs a reference answer or a
    label (``reason=False``: labelled examples answer with the label alone). ``examples``
    may repeat (oversampling): each is retrieved once."""
    labels = dataset_labels(examples)
    style = pipeline.settings.answer.citation_style
    cache: dict[str, tuple[list[dict], list[int]]] = {}
    for example in examples:
        if example.id not in cache:
            prompt, candidates = grounded_prompt(pipeline, example.question,
                                                 answer_instruction(example, labels))
            gold = set(example.gold_doc_ids) | set(example.gold_chunk_ids)
            sources = [n for n, c in enumerate(candidates, 1)
                       if c.chunk.doc_id in gold or c.chunk.id in gold]
            cache[example.id] = (prompt, sources)
        prompt, sources = cache[example.id]
        reference = example.reference_answers[0] if example.reference_answers else ""
        chosen = [{"role": "assistant", "content": answer_content(
            target_text(example.label, reference, reason=reason), sources, style)}]
        if fmt == "sft":
            yield {"id": example.id, "prompt": prompt, "completion": chosen}
        else:
            for wrong in (lbl for lbl in labels if lbl != example.label):
                rejected = [{"role": "assistant", "content": answer_content(
                    target_text(wrong, reference, reason=reason), sources, style)}]
                if fmt == "dpo":
                    yield {"id": example.id, "prompt": prompt, "chosen": chosen,
                           "rejected": rejected}
                else:
                    yield {"id": example.id, "prompt": prompt, "completion": chosen,
                           "label": True}
                    yield {"id": example.id, "prompt": prompt, "completion": rejected,
                           "label": False}
        if on_example:
            on_example()
