"""Import a BEIR folder (``queries.jsonl`` + ``qrels/<split>.tsv``) as a golden dataset.

Gold document ids are the BEIR corpus ids with a positive qrels score, so retrieval metrics
work once the folder's ``corpus.jsonl`` has been ingested (BEIR ``_id`` → document id).
Queries without any positive judgement in the split are left out: they cannot be scored.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from ragloop.errors import DatasetError
from ragloop.records import EvalExample


def read_qrels(path: Path) -> dict[str, list[str]]:
    """query id → positive corpus ids, in file order."""
    if not path.is_file():
        raise DatasetError(path, "qrels file not found")
    gold: dict[str, list[str]] = defaultdict(list)
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (number == 1 and row[0] == "query-id"):
                continue
            if len(row) != 3:
                raise DatasetError(path, f"expected 3 tab-separated columns, got {len(row)}",
                                   line=number)
            query_id, corpus_id, score = row
            try:
                relevant = int(score) > 0
            except ValueError:
                raise DatasetError(path, f"score {score!r} is not an integer",
                                   line=number) from None
            if relevant and corpus_id not in gold[query_id]:
                gold[query_id].append(corpus_id)
    return dict(gold)


def iter_beir_examples(folder: Path | str, *, split: str = "test") -> Iterator[EvalExample]:
    folder = Path(folder)
    gold = read_qrels(folder / "qrels" / f"{split}.tsv")
    queries = folder / "queries.jsonl"
    if not queries.is_file():
        raise DatasetError(queries, "queries file not found")
    with queries.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                query = json.loads(raw)
                query_id, text = str(query["_id"]), query["text"]
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise DatasetError(queries, f"not a BEIR query line ({err})",
                                   line=number) from None
            if query_id in gold:
                yield EvalExample(id=query_id, question=text, gold_doc_ids=tuple(gold[query_id]),
                                  tags=("beir", folder.name, split))
