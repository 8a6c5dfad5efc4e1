"""A run folder on disk: ``run.json`` (manifest), ``config.json`` (settings snapshot),
``examples.jsonl`` (one record per example, appended as they finish) and
``aggregates.json`` (means with bootstrap intervals). Read by compare and report."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ragloop.errors import RagloopError
from ragloop.evals.metrics.answer import label_scores
from ragloop.evals.metrics.stats import bootstrap_ci
from ragloop.records import EvalRecord, RunManifest

MANIFEST = "run.json"
CONFIG = "config.json"
EXAMPLES = "examples.jsonl"
AGGREGATES = "aggregates.json"
REPORT = "report.html"


class RunFolderError(RagloopError):
    """A run folder is missing or damaged."""


def write_json(path: Path, data) -> None:
    if isinstance(data, RunManifest):
        data = data.model_dump(mode="json")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str),
                   encoding="utf-8")
    tmp.replace(path)


def read_records(run_dir: Path) -> list[EvalRecord]:
    """Records by id, the last written winning (a resumed run rewrites failed examples).
    A torn last line from an interrupted run is ignored. Records written as plain dicts by
    earlier versions load the same way."""
    path = Path(run_dir) / EXAMPLES
    if not path.is_file():
        return []
    records: dict[str, EvalRecord] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = EvalRecord.model_validate_json(raw)
        except ValidationError as err:
            if number == len(lines) and err.errors()[0]["type"] == "json_invalid":
                continue
            raise RunFolderError(f"{path}:{number}: damaged record "
                                 f"({err.errors()[0]['msg']})") from None
        records[record.id] = record
    return list(records.values())


def repair_tail(path: Path) -> None:
    """Cut a torn last line (an interrupted write) so appended records start on a new line."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(-1, 2)
        if handle.read(1) == b"\n":
            return
        data = path.read_bytes()
        handle.truncate(data.rfind(b"\n") + 1)


def aggregate(records: list[EvalRecord], *, samples: int = 1000, seed: int = 0) -> dict:
    """Per metric: mean, 95% bootstrap interval, n. Plus label block, latency, tokens."""
    ok = [r for r in records if r.ok]
    metrics: dict[str, dict] = {}
    names = sorted({name for r in ok for name in r.scores})
    for name in names:
        values = [r.scores[name] for r in ok if name in r.scores]
        mean, low, high = bootstrap_ci(values, samples=samples, seed=seed)
        metrics[name] = {"mean": mean, "low": low, "high": high, "n": len(values)}
    latencies = sorted(r.latency.total_s for r in ok)
    result = {
        "n_examples": len(records), "n_errors": len(records) - len(ok),
        "judge_errors": sum(1 for r in ok for j in r.judges.values() if j.get("error")),
        "metrics": metrics,
        "latency_s": _latency_summary(latencies),
        "tokens": {"prompt": sum(r.tokens.prompt for r in ok),
                   "completion": sum(r.tokens.completion for r in ok),
                   "cached_calls": sum(r.tokens.cached_calls for r in ok)},
    }
    labelled = [r for r in ok if r.label is not None and "label_accuracy" in r.scores]
    if labelled:
        labels = sorted({r.label for r in labelled} | set(labelled[0].labels))
        result["labels"] = label_scores([r.label for r in labelled],
                                        [r.predicted_label for r in labelled], labels)
    return result


def _latency_summary(values: list[float]) -> dict:
    if not values:
        return {}

    def pct(q: float) -> float:
        return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]

    return {"mean": sum(values) / len(values), "p50": pct(0.5), "p95": pct(0.95),
            "max": values[-1]}


@dataclass
class Run:
    path: Path
    manifest: RunManifest
    records: list[EvalRecord]
    aggregates: dict
    config: dict | None = None  # the settings snapshot (config.json); None when missing

    @property
    def name(self) -> str:
        return self.path.name


def load_run(run_dir: Path | str) -> Run:
    run_dir = Path(run_dir)
    manifest_path = run_dir / MANIFEST
    if not manifest_path.is_file():
        raise RunFolderError(f"{run_dir}: not a run folder (no {MANIFEST})")
    try:
        manifest = RunManifest.model_validate_json(manifest_path.read_text(encoding="utf-8"))
    except ValidationError as err:
        raise RunFolderError(f"{manifest_path}: damaged manifest "
                             f"({err.errors()[0]['msg']})") from None
    records = read_records(run_dir)
    agg_path = run_dir / AGGREGATES
    aggregates = (json.loads(agg_path.read_text(encoding="utf-8")) if agg_path.is_file()
                  else aggregate(records))
    config_path = run_dir / CONFIG
    config = (json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file()
              else None)
    return Run(run_dir, manifest, records, aggregates, config)
