"""Judge calibration: how often does each judge agree with human labels?

A labels file is JSONL, one item per line::

    {"id": "cal-01", "judge": "correctness", "question": "...", "answer": "...",
     "reference": "...", "context": "...", "human": "correct", "split": "test"}

``human`` must be one of the judge's two verdicts. ``split`` is "test" (the default: held out,
what a reported kappa is measured on) or "train" (items a judge may be tuned on, e.g. with
``ragloop train data judge --labels``). ragloop ships a set labelled by hand for its demo
corpus (``ragloop/data/calibration.jsonl``), used when no file is given; its faithfulness
items are split by context passage, so no test passage is seen in training.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ragloop.answer.verify import GroundingVerifier, word_support
from ragloop.errors import DatasetError, ModelError
from ragloop.evals.judges import JudgeResult, get_spec, run_judge
from ragloop.evals.likelihood import LIKELIHOOD_JUDGE, can_score, context_gain, fit_threshold
from ragloop.evals.metrics.stats import cohen_kappa, confusion_matrix
from ragloop.models.llm import LLMClient

GROUNDING_JUDGE = "faithfulness (grounding check)"


class LabelledItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    judge: str
    question: str
    answer: str
    reference: str = ""
    context: str = ""
    human: str
    split: Literal["train", "test"] = "test"


SPLITS = ("train", "test", "all")


def shipped_labels_path() -> Path:
    return Path(str(resources.files("ragloop") / "data" / "calibration.jsonl"))


def load_labels(path: Path | str, *, version: str = "v1", split: str = "all"
                ) -> list[LabelledItem]:
    """The labelled items of ``split`` ("train", "test" or "all")."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "labels file not found")
    items: list[LabelledItem] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = LabelledItem.model_validate(json.loads(raw))
        except json.JSONDecodeError as err:
            raise DatasetError(path, f"not valid JSON: {err.msg}", line=number) from None
        except ValidationError as err:
            first = err.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            raise DatasetError(path, f"field '{key}': {first['msg']}", line=number) from None
        try:
            spec = get_spec(item.judge, version)
        except ValueError as err:
            raise DatasetError(path, str(err), line=number) from None
        if item.human not in spec.verdicts:
            raise DatasetError(path, f"human verdict {item.human!r} is not one of "
                                     f"{list(spec.verdicts)}", line=number)
        items.append(item)
    if not items:
        raise DatasetError(path, "labels file has no items")
    chosen = [i for i in items if split == "all" or i.split == split]
    if not chosen:
        raise DatasetError(path, f"labels file has no items in split {split!r}")
    return chosen


@dataclass
class JudgeAgreement:
    judge: str
    labels: tuple[str, str]
    n: int = 0
    errors: int = 0  # judge output that could not be parsed: counted, not scored
    accuracy: float = float("nan")
    kappa: float = float("nan")
    confusion: list[list[int]] = field(default_factory=list)  # rows human, columns judge
    threshold: float | None = None  # a scoring judge's fitted cut (the likelihood judge)

    def as_dict(self) -> dict:
        data = {k: getattr(self, k) for k in ("judge", "labels", "n", "errors", "accuracy",
                                               "kappa", "confusion")}
        if self.threshold is not None:
            data["threshold"] = self.threshold
        return data


@dataclass
class CalibrationReport:
    prompt_version: str
    model: str
    judges: list[JudgeAgreement]
    items: list[dict]

    def as_dict(self) -> dict:
        return {"prompt_version": self.prompt_version, "model": self.model,
                "judges": [j.as_dict() for j in self.judges], "items": self.items}


def agreement(judge: str, labels: tuple[str, str], human: list[str],
              predicted: list[str | None]) -> JudgeAgreement:
    pairs = [(h, p) for h, p in zip(human, predicted, strict=True) if p is not None]
    result = JudgeAgreement(judge, labels, n=len(pairs), errors=len(human) - len(pairs))
    if pairs:
        gold, pred = [h for h, _ in pairs], [p for _, p in pairs]
        result.accuracy = sum(g == p for g, p in pairs) / len(pairs)
        result.kappa = cohen_kappa(gold, pred, list(labels))
        result.confusion = confusion_matrix(gold, pred, list(labels))
    return result


def calibrate(llm: LLMClient, items: list[LabelledItem], *, version: str = "v1",
              on_item: Callable[[], None] | None = None,
              fit_items: list[LabelledItem] | None = None) -> CalibrationReport:
    """Each LLM judge and the grounding check against ``items``; with ``fit_items`` (labelled
    items apart from ``items``, e.g. the train split) also the likelihood judge, its
    threshold fitted on them (when the judge model's backend can score text)."""
    results: list[tuple[LabelledItem, JudgeResult]] = []
    for item in items:
        result = run_judge(llm, item.judge, question=item.question, answer=item.answer,
                           reference=item.reference, context=item.context, version=version)
        results.append((item, result))
        if on_item:
            on_item()
    judges = []
    for name in dict.fromkeys(item.judge for item in items):
        mine = [(i, r) for i, r in results if i.judge == name]
        judges.append(agreement(name, get_spec(name, version).verdicts,
                                [i.human for i, _ in mine], [r.verdict for _, r in mine]))
    rows = [{"id": i.id, "judge": i.judge, "human": i.human, "verdict": r.verdict,
             "reason": r.reason, "error": r.error} for i, r in results]
    floor, floor_rows = grounding_agreement(items, version=version)
    if floor is not None:
        judges.append(floor)
        rows += floor_rows
    if fit_items and can_score(llm):
        scored, scored_rows = likelihood_agreement(llm, items, fit_items, version=version)
        if scored is not None:
            judges.append(scored)
            rows += scored_rows
    return CalibrationReport(version, llm.model_id, judges, rows)


def likelihood_agreement(llm: LLMClient, items: list[LabelledItem],
                         fit_items: list[LabelledItem], *, version: str = "v1"
                         ) -> tuple[JudgeAgreement | None, list[dict]]:
    """The likelihood judge (``evals.likelihood``) on the faithfulness ``items``, its
    threshold fitted on the faithfulness ``fit_items``; (None, []) when either has none."""
    def usable(group):
        return [i for i in group if i.judge == "faithfulness" and i.context.strip()]

    errors: dict[str, str] = {}

    def gain(item: LabelledItem) -> float | None:
        try:
            return context_gain(llm, question=item.question, answer=item.answer,
                                context=item.context)
        except ModelError as err:  # e.g. over the context window: this item, not the run
            errors[item.id] = f"{type(err).__name__}: {err}"[:600]
            return None

    def gains(group):
        return [gain(i) for i in group]

    mine, fit = usable(items), usable(fit_items)
    if not mine or not fit:
        return None, []
    faithful, unfaithful = get_spec("faithfulness", version).verdicts
    fit_scores = [(s, i.human == faithful) for s, i in zip(gains(fit), fit, strict=True)
                  if s is not None]
    if not fit_scores:
        return None, []
    cut = fit_threshold([s for s, _ in fit_scores], [p for _, p in fit_scores])
    rows = []
    for item, score in zip(mine, gains(mine), strict=True):
        verdict = None if score is None else faithful if score >= cut else unfaithful
        rows.append({"id": item.id, "judge": LIKELIHOOD_JUDGE, "human": item.human,
                     "verdict": verdict, "score": score, "threshold": cut,
                     "reason": "" if score is None else
                     f"context gain {score:+.2f} nats/token (threshold {cut:+.2f}, fitted "
                     f"on {len(fit_scores)} labelled items)",
                     "error": None if score is not None else
                     errors.get(item.id, "no answer text to score")})
    found = agreement(LIKELIHOOD_JUDGE, (faithful, unfaithful), [i.human for i in mine],
                      [r["verdict"] for r in rows])
    found.threshold = cut
    return found, rows


def grounding_agreement(items: list[LabelledItem], *, version: str = "v1",
                        min_overlap: float = GroundingVerifier().min_overlap
                        ) -> tuple[JudgeAgreement | None, list[dict]]:
    """The programmatic floor beside the LLM faithfulness judge: "faithful" when most of the
    answer's content words are in the context (``answer.verify.word_support``, the check
    best-of-N and self-generation already use, at its default threshold — not fitted to
    these labels). No model call, so it is the same for every judge model."""
    mine = [i for i in items if i.judge == "faithfulness" and i.context.strip()]
    if not mine:
        return None, []
    faithful, unfaithful = get_spec("faithfulness", version).verdicts
    rows = []
    for item in mine:
        share, missing = word_support(item.answer, item.context)
        verdict = faithful if share is None or share >= min_overlap else unfaithful
        rows.append({"id": item.id, "judge": GROUNDING_JUDGE, "human": item.human,
                     "verdict": verdict,
                     "reason": ("not in the context: " + ", ".join(dict.fromkeys(missing[:8]))
                                if missing else ""), "error": None})
    found = agreement(GROUNDING_JUDGE, (faithful, unfaithful), [i.human for i in mine],
                      [r["verdict"] for r in rows])
    return found, rows
