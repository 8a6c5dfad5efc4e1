"""Golden datasets: one JSON object per line, each an ``EvalExample``.

A line looks like::

    {"id": "q1", "question": "...", "reference_answers": ["..."], "label": "yes",
     "gold_doc_ids": ["doc-1"], "gold_chunk_ids": [], "tags": ["pubmedqa"]}

Only ``id`` and ``question`` are required. Reading validates every line and names the line
of the first problem (``DatasetError(path, msg, line=n)``); ids must be unique.

A conversation is one line with ``turns`` instead of a question::

    {"id": "c1", "tags": ["chat"], "turns": [
      {"question": "Which reranker uses the model?", "reference_answers": ["the llm one"]},
      {"question": "And the other one?", "gold_doc_ids": ["doc-2"]}]}

Each turn takes an example's fields (not ``id`` or ``history``) and becomes one example,
``c1#1``, ``c1#2`` ...: its ``history`` is the turns before it, each answered by its first
reference answer (empty without one), so every turn is scored on the same fixed history
whatever the model answered before; ``metadata`` says the conversation and the turn.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from pydantic import ValidationError

from ragloop.errors import DatasetError
from ragloop.records import EvalExample, Turn


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(line)"
    if first["type"] == "extra_forbidden":
        return f"unknown field '{key}'"
    if first["type"] == "missing":
        return f"missing required field '{key}'"
    return f"field '{key}': {first['msg']}"


def parse_line(raw: str, *, path: Path, line: int) -> list[EvalExample]:
    """The example of a line, or the examples of a conversation's turns (module doc)."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise DatasetError(path, f"not valid JSON: {err.msg} (column {err.colno})",
                           line=line) from None
    if not isinstance(data, dict):
        raise DatasetError(path, f"expected a JSON object, got {type(data).__name__}", line=line)
    if "turns" not in data:
        return [_example(data, path=path, line=line)]
    turns = data.pop("turns")
    if not isinstance(turns, list) or not turns or not all(isinstance(t, dict) for t in turns):
        raise DatasetError(path, "field 'turns' must be a non-empty list of objects", line=line)
    if "question" in data:
        raise DatasetError(path, "a conversation has 'turns', not 'question'", line=line)
    conversation = str(data.get("id", ""))
    examples, history = [], []
    for n, turn in enumerate(turns, start=1):
        for key in ("id", "history"):
            if key in turn:
                raise DatasetError(path, f"turns[{n - 1}]: field '{key}' is set by the "
                                         f"conversation", line=line)
        fields = {**data, **turn, "id": f"{conversation}#{n}", "history": list(history),
                  "metadata": {**data.get("metadata", {}), **turn.get("metadata", {}),
                               "conversation": conversation, "turn": n}}
        example = _example(fields, path=path, line=line)
        examples.append(example)
        history.append(Turn(question=example.question,
                            answer=(example.reference_answers or ("",))[0]))
    return examples


def parse_example(raw: str, *, path: Path, line: int) -> EvalExample:
    """The one example of a single-question line."""
    found = parse_line(raw, path=path, line=line)
    if len(found) != 1:
        raise DatasetError(path, "expected one question, got a conversation", line=line)
    return found[0]


def _example(data: dict, *, path: Path, line: int) -> EvalExample:
    if isinstance(data.get("reference_answers"), str):
        raise DatasetError(path, "field 'reference_answers' must be a list of strings",
                           line=line)
    try:
        example = EvalExample.model_validate(data)
    except ValidationError as err:
        raise DatasetError(path, _describe(err), line=line) from None
    if not example.id.strip():
        raise DatasetError(path, "field 'id' is empty", line=line)
    if not example.question.strip():
        raise DatasetError(path, "field 'question' is empty", line=line)
    return example


def iter_dataset(path: Path | str) -> Iterator[EvalExample]:
    """Stream the examples of a JSONL dataset, validating each line; blank lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "dataset file not found")
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            for example in parse_line(raw, path=path, line=number):
                if example.id in seen:
                    raise DatasetError(path, f"duplicate id {example.id!r} (first on line "
                                             f"{seen[example.id]})", line=number)
                seen[example.id] = number
                yield example


def load_dataset(path: Path | str, *, limit: int | None = None) -> list[EvalExample]:
    """All examples (validated as a whole: a bad line anywhere fails), optionally the first
    ``limit``."""
    examples = list(iter_dataset(path))
    if not examples:
        raise DatasetError(path, "dataset has no examples")
    return examples[:limit] if limit else examples


def example_to_json(example: EvalExample) -> str:
    data = example.model_dump(mode="json")
    # keep lines short: leave out empty optional fields
    for key in ("reference_answers", "gold_doc_ids", "gold_chunk_ids", "tags", "metadata"):
        if not data[key]:
            del data[key]
    if data["label"] is None:
        del data["label"]
    return json.dumps(data, ensure_ascii=False)


def write_dataset(path: Path | str, examples: Iterable[EvalExample]) -> int:
    """Write examples as JSONL (atomically: a temp file renamed into place). Returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(example_to_json(example) + "\n")
            count += 1
    tmp.replace(path)
    return count


def dataset_hash(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def unknown_gold_ids(examples: Iterable[EvalExample], doc_ids: set[str],
                     chunk_ids: set[str] | None = None) -> dict[str, list[str]]:
    """Gold ids that name nothing in the index, per example id: a ``gold_doc_ids`` entry not
    in ``doc_ids``; a ``gold_chunk_ids`` entry not in ``chunk_ids`` (when given). Scoring
    against them silently gives 0 on every retrieval metric."""
    unknown: dict[str, list[str]] = {}
    for example in examples:
        missing = [d for d in example.gold_doc_ids if d not in doc_ids]
        if chunk_ids is not None:
            missing += [c for c in example.gold_chunk_ids if c not in chunk_ids]
        if missing:
            unknown[example.id] = missing
    return unknown


def check_gold_ids(store, examples: Sequence[EvalExample], dataset: Path | str) -> str | None:
    """Gold ids that match nothing in ``store``: None when all match (or there are none), a
    warning naming them when some do not, and a ``DatasetError`` when none of them match —
    every retrieval metric would read 0."""
    gold_docs = {d for e in examples for d in e.gold_doc_ids}
    gold_chunks = sorted({c for e in examples for c in e.gold_chunk_ids})
    if not gold_docs and not gold_chunks:
        return None
    doc_ids = {entry.doc_id for entry in store.documents()}
    chunk_ids = {c.id for c in store.get_chunks(gold_chunks)}
    unknown = unknown_gold_ids(examples, doc_ids, chunk_ids)
    if not unknown:
        return None
    names = sorted({i for ids in unknown.values() for i in ids})
    shown = ", ".join(names[:10]) + (f", … ({len(names)} in all)" if len(names) > 10 else "")
    where = ", ".join(list(unknown)[:5]) + (", …" if len(unknown) > 5 else "")
    message = (f"gold ids that match no indexed document or chunk: {shown} "
               f"(examples {where}); `ragloop documents list` shows the indexed ids")
    if len(names) == len(gold_docs | set(gold_chunks)):
        raise DatasetError(dataset, message + "; none of the gold ids match, so every "
                                              "retrieval metric would read 0")
    return f"{dataset}: {message}"
