"""Training rows read from TRL-format JSONL, and the check that none comes from an eval set.

Accepted rows (TRL's conversational formats, as ``ragloop feedback export`` and
``ragloop train data ...`` write them), each optionally with an ``id`` naming the example it
was made from:

- SFT: ``messages`` (the last one is the assistant's answer), or ``prompt`` + ``completion``;
- DPO: ``prompt`` + ``chosen`` + ``rejected``;
- KTO: ``prompt`` + ``completion`` + ``label`` (true: desirable).

The loss is always on the completion only; the prompt is context.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ragloop.errors import DataLeakError, DatasetError
from ragloop.feedback.export.schema import SchemaMismatch, validate_row
from ragloop.records import EvalExample

Messages = list[dict[str, str]]
METHODS = ("sft", "dpo", "kto")
MIN_QUESTION_WORDS = 4  # shorter eval questions are too generic to match as text


@dataclass(frozen=True)
class TrainRow:
    id: str | None
    prompt: Messages
    completion: Messages  # SFT target, DPO chosen, KTO completion
    rejected: Messages | None = None  # DPO
    desirable: bool | None = None  # KTO


def _as_row(method: str, data: dict) -> TrainRow:
    row_id = data.pop("id", None)
    if row_id is not None and not isinstance(row_id, str):
        raise SchemaMismatch("column 'id' must be a string")
    if method == "sft":
        if "messages" not in data and {"prompt", "completion"} <= set(data):
            data = {"messages": list(data.pop("prompt")) + list(data.pop("completion")),
                    **data}
        validate_row("sft", data)
        messages = data["messages"]
        if len(messages) < 2:
            raise SchemaMismatch("an SFT row needs a prompt before the assistant's answer")
        return TrainRow(row_id, messages[:-1], messages[-1:])
    validate_row(method, data)
    if method == "dpo":
        return TrainRow(row_id, data["prompt"], data["chosen"], rejected=data["rejected"])
    return TrainRow(row_id, data["prompt"], data["completion"], desirable=data["label"])


def load_rows(path: Path | str, method: str) -> list[TrainRow]:
    """Every row of a TRL JSONL file, validated; a bad line names its line number."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "training data file not found")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as err:
                raise DatasetError(path, f"not valid JSON: {err.msg}", line=number) from None
            if not isinstance(data, dict):
                raise DatasetError(path, "expected a JSON object", line=number)
            try:
                rows.append(_as_row(method, data))
            except SchemaMismatch as err:
                raise DatasetError(path, f"not a {method} row: {err}", line=number) from None
    if not rows:
        raise DatasetError(path, "no training rows")
    return rows


_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text.lower()).strip()


def prompt_text(row: TrainRow) -> str:
    return _norm(" ".join(m["content"] for m in row.prompt if m["role"] == "user"))


def check_disjoint(rows: Iterable[TrainRow], eval_examples: Iterable[EvalExample], *,
                   data_path: Path | str, eval_path: Path | str) -> None:
    """Raise ``DataLeakError`` when a row's id is an eval example's id, or a row's prompt
    contains an eval question (rows without ids, e.g. from feedback, are caught this way)."""
    examples = list(eval_examples)
    eval_ids = {e.id for e in examples}
    questions = {_norm(e.question): e.id for e in examples
                 if len(e.question.split()) >= MIN_QUESTION_WORDS}
    by_id, by_text = [], []
    for row in rows:
        if row.id is not None and row.id in eval_ids:
            by_id.append(row.id)
            continue
        text = prompt_text(row)
        hit = next((qid for q, qid in questions.items() if q in text), None)
        if hit is not None:
            by_text.append(hit)
    if by_id or by_text:
        found = sorted(set(by_id + by_text))
        raise DataLeakError(
            f"{data_path}: {len(by_id) + len(by_text)} training rows come from the eval set "
            f"{eval_path} ({len(by_id)} by id, {len(by_text)} by question text; e.g. "
            f"{', '.join(found[:5])}); train on a split the eval does not use")


def training_examples(dataset: Path | str, *, eval_set: Path | str | None = None,
                      limit: int | None = None) -> list[EvalExample]:
    """The examples of ``dataset`` to build training rows from (the first ``limit``).
    Raises ``DataLeakError`` when any of them is in ``eval_set``, by id or by its question
    (the eval set the trained model will be gated on must stay unseen)."""
    from ragloop.evals.datasets import load_dataset

    examples = load_dataset(dataset)
    if eval_set is not None:
        held_out = load_dataset(eval_set)
        ids = {e.id for e in held_out}
        questions = {_norm(e.question) for e in held_out}
        overlap = sorted({e.id for e in examples
                          if e.id in ids or _norm(e.question) in questions})
        if overlap:
            raise DataLeakError(
                f"{dataset}: {len(overlap)} examples are in the eval set {eval_set} (e.g. "
                f"{', '.join(overlap[:5])}); build training rows from its train split")
    return examples[:limit] if limit else examples


def write_rows(path: Path | str, rows: Iterable[dict], method: str) -> int:
    """Write TRL rows as JSONL, each validated first; atomic (temp file renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            _as_row(method, dict(row))
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count
