"""De-duplicate rows and split them into seeded train/test files.

Rows sharing a prompt stay on the same side, so no test question was seen in training.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ragloop.feedback.export.schema import validate_row


@dataclass(frozen=True)
class ExportResult:
    train_path: Path
    test_path: Path | None
    n_train: int
    n_test: int
    n_duplicates: int


def _key(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False)
                          .encode("utf-8")).hexdigest()


def split_paths(out: Path) -> tuple[Path, Path]:
    """``data.jsonl`` → ``data.train.jsonl``, ``data.test.jsonl``."""
    suffix = out.suffix or ".jsonl"
    return out.with_name(f"{out.stem}.train{suffix}"), out.with_name(f"{out.stem}.test{suffix}")


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def write_split(fmt: str, rows: Iterable[dict], out: Path, *, test_fraction: float = 0.1,
                seed: int = 0) -> ExportResult:
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test fraction must be in [0, 1), got {test_fraction}")
    groups: dict[str, list[dict]] = {}
    seen: set[str] = set()
    duplicates = 0
    for row in rows:
        validate_row(fmt, row)
        key = _key(row)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        prompt = row.get("prompt", row.get("messages", [])[:-1])
        groups.setdefault(_key(prompt), []).append(row)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    n_test_groups = round(len(keys) * test_fraction)
    if test_fraction > 0 and n_test_groups == 0 and len(keys) > 1:
        n_test_groups = 1
    test = [row for k in keys[:n_test_groups] for row in groups[k]]
    train = [row for k in keys[n_test_groups:] for row in groups[k]]
    train_path, test_path = split_paths(Path(out))
    _write(train_path, train)
    if test_fraction > 0:
        _write(test_path, test)
    return ExportResult(train_path, test_path if test_fraction > 0 else None, len(train),
                        len(test), duplicates)
