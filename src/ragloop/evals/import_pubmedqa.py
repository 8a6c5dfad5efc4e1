"""Import PubMedQA (PQA-L, expert-labelled) as a golden dataset, and write its pooled corpus.

The corpus of the end-to-end task is every record's ``CONTEXTS`` pooled: one document per
PMID, written as BEIR-style JSONL (``_id`` = PMID, ``title`` = the question's topic is not
part of the abstract, so the title is ``PMID <id>``, ``text`` = the context sections joined).
A question's gold document is its own PMID.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ragloop.errors import DatasetError
from ragloop.records import EvalExample

LABELS = ("yes", "no", "maybe")


def _load(path: Path) -> dict:
    if not path.is_file():
        raise DatasetError(path, "PubMedQA file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatasetError(path, f"not valid JSON: {err.msg}", line=err.lineno) from None


def load_records(folder: Path | str) -> dict[str, dict]:
    return _load(Path(folder) / "data" / "ori_pqal.json")


def official_test_ids(folder: Path | str) -> list[str]:
    """The official 500-question test split, in file order."""
    return list(_load(Path(folder) / "data" / "test_ground_truth.json"))


def iter_pubmedqa_examples(folder: Path | str, *, split: str = "test") -> Iterator[EvalExample]:
    """``split``: "test" (the official 500), "train" (the other 500) or "all" (1,000)."""
    records = load_records(folder)
    if split == "all":
        ids = list(records)
    else:
        test = official_test_ids(folder)
        ids = test if split == "test" else [pmid for pmid in records if pmid not in set(test)]
    for pmid in ids:
        record = records[pmid]
        label = record["final_decision"]
        if label not in LABELS:
            raise DatasetError(Path(folder) / "data" / "ori_pqal.json",
                               f"record {pmid}: unknown final_decision {label!r}")
        yield EvalExample(id=pmid, question=record["QUESTION"],
                          reference_answers=(record["LONG_ANSWER"],), label=label,
                          gold_doc_ids=(pmid,), tags=("pubmedqa", split),
                          metadata={"year": record.get("YEAR")})


def corpus_document(pmid: str, record: dict) -> dict:
    return {"_id": pmid, "title": f"PMID {pmid}", "text": "\n\n".join(record["CONTEXTS"])}


def write_pubmedqa_corpus(folder: Path | str, out: Path | str) -> int:
    """Write the pooled contexts as BEIR-style JSONL, one document per PMID. Returns the count."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    records = load_records(folder)
    with out.open("w", encoding="utf-8") as handle:
        for pmid, record in records.items():
            handle.write(json.dumps(corpus_document(pmid, record), ensure_ascii=False) + "\n")
    return len(records)
