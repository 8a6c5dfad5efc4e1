"""Judge calibration: how often does each judge agree with human labels?

A labels file is JSONL, one item per line::

    {"id": "cal-01", "judge": "correctness", "question": "...", "answer": "...",
     "reference": "...", "context": "...", "human": "correct", "split": "test"}

``human`` must be one of the judge's two verdicts. ``split`` is "test" (the default: held out,
what a reported kappa is measured on) or "train" (items a judge may be tuned on, e.g. with
``ragloop train data judge --labels``).

Where labels come from when no file is given: the project's own — what reviewers said about
live answers (``feedback.labels``, the Review tab, ``POST /v1/labels``), so a judge's kappa
is measured on this project's traffic — and only when it has none, the set ragloop ships,
labelled by hand for its demo corpus (``ragloop/data/calibration.jsonl``; its faithfulness
items are split by context passage, so no test passage is seen in training).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ragloop.answer.verify import GroundingVerifier, word_support
from ragloop.errors import DatasetError, ModelError
from ragloop.evals.judge_agreement import SHIPPED_SOURCE
from ragloop.evals.judges import JudgeResult, get_spec, run_judge
from ragloop.evals.likelihood import LIKELIHOOD_JUDGE, can_score, context_gain, fit_threshold
from ragloop.evals.metrics.stats import cohen_kappa, confusion_matrix
from ragloop.models.llm import LLMClient
from ragloop.records import Label

GROUNDING_JUDGE = "faithfulness (grounding check)"
PROJECT_SOURCE = "project labels"
# a label's metric → the judge it calibrates
LABEL_JUDGES = {"faithfulness": "faithfulness", "correctness": "correctness",
                "relevance": "relevancy"}


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
    path = Path(path)
    return select_split(read_labels_file(path, version=version), split, str(path))


def select_split(items: list[LabelledItem], split: str, where: str) -> list[LabelledItem]:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    chosen = [i for i in items if split == "all" or i.split == split]
    if not chosen:
        held = Counter(i.split for i in items)
        raise DatasetError(where, f"no labelled items in split {split!r} (it has "
                                  + ", ".join(f"{n} {s}" for s, n in sorted(held.items()))
                                  + "); label more, or choose --split all")
    return chosen


def read_labels_file(path: Path, *, version: str = "v1") -> list[LabelledItem]:
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
    return items


@dataclass
class ProjectLabels:
    items: list[LabelledItem]
    labels: int  # labels stored (the last per trace and metric)
    left_out: Counter  # why a label could not become an item → how many

    def describe(self) -> str:
        kept = Counter((i.judge, i.split) for i in self.items)
        text = ", ".join(f"{j} {s} {n}" for (j, s), n in sorted(kept.items())) or "none"
        out = f"{self.labels} labels → {len(self.items)} items ({text})"
        if self.left_out:
            out += "; left out: " + ", ".join(f"{n} {why}" for why, n in
                                              self.left_out.most_common())
        return out


def items_from_labels(labels: list[Label], *, references: dict[str, str] | None = None,
                      version: str = "v1") -> ProjectLabels:
    """Reviewers' labels in the calibration format. A correctness label needs a reference
    answer, which is the reviewer's correction of that answer (``references``: trace id →
    corrected answer); a faithfulness label needs the retrieved context it was judged on."""
    references = references or {}
    items, left_out = [], Counter()
    for label in labels:
        judge = LABEL_JUDGES[label.metric]
        reference = references.get(label.trace_id, "")
        if judge == "correctness" and not reference.strip():
            left_out["correctness labels without a correction to serve as reference"] += 1
            continue
        if judge == "faithfulness" and not label.context.strip():
            left_out["faithfulness labels of answers with no retrieved context"] += 1
            continue
        passed, failed = get_spec(judge, version).verdicts
        items.append(LabelledItem(id=f"label-{label.id}", judge=judge,
                                  question=label.question, answer=label.answer,
                                  reference=reference, context=label.context,
                                  human=passed if label.label else failed, split=label.split))
    return ProjectLabels(items, len(labels), left_out)


def project_labels(data_dir: Path, *, version: str = "v1") -> ProjectLabels:
    """The project's labels (``<data dir>/traces.sqlite``) as calibration items."""
    from ragloop.feedback.db import Database
    from ragloop.feedback.labels import LabelStore
    from ragloop.feedback.store import TRACES_FILENAME, TraceStore

    if not (Path(data_dir) / TRACES_FILENAME).is_file():
        return ProjectLabels([], 0, Counter())
    db = Database.for_data_dir(data_dir)
    try:
        labels = LabelStore(db).latest()
    finally:
        db.close()
    references = {}
    wanted = sorted({lb.trace_id for lb in labels if lb.metric == "correctness"})
    if wanted:
        traces = TraceStore.for_data_dir(data_dir)
        try:
            for trace_id in wanted:
                corrected = [f.corrected_answer for f in traces.feedback_for(trace_id)
                             if f.corrected_answer]
                if corrected:
                    references[trace_id] = corrected[-1]
        finally:
            traces.close()
    return items_from_labels(labels, references=references, version=version)


@dataclass
class LabelSource:
    items: list[LabelledItem]  # every split
    source: str  # what the saved calibration names: a path, "project labels", "shipped ..."
    where: str  # how errors name it
    note: str = ""  # what became of the project's labels, when they were used


def calibration_labels(path: Path | None, data_dir: Path | None, *,
                       version: str = "v1") -> LabelSource:
    """The labels ``eval calibrate`` measures judges on: the file given; else the
    project's own labels; else — only when the project has none — the shipped set."""
    if path is not None:
        path = Path(path)
        return LabelSource(read_labels_file(path, version=version), str(path.resolve()),
                           str(path))
    if data_dir is not None:
        found = project_labels(data_dir, version=version)
        if found.items:
            return LabelSource(found.items, PROJECT_SOURCE, f"{PROJECT_SOURCE} in {data_dir}",
                               found.describe())
    shipped = shipped_labels_path()
    return LabelSource(read_labels_file(shipped, version=version), SHIPPED_SOURCE,
                       str(shipped))


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
