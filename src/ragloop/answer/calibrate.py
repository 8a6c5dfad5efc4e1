"""Fit the router's thresholds from measured per-example records, and write them to
``ragloop.toml`` (``[answer] router_thresholds``) keeping the file's comments.

Input: eval run folders (their ``examples.jsonl``) or JSONL files of per-example records.
Each record needs ``id``, ``question``, ``strategy``, correctness (``correct``, or
``scores[metric]``), latency (``latency_s``, or ``latency.answer_s``) and, when available,
``signals``. Signals missing from a record are recomputed from what it holds: question
features from the question, the margin from ``retrieved`` scores, and grounding from
``answer``, ``context`` and the citations in the answer text.

The fit replays the router's rules (``router.escalation``) on every example for every
threshold combination in a grid: an escalated example costs the fast and the slow latency
and scores as the slow one.
The chosen combination is the most accurate one whose mean latency stays within
``max_latency_ratio`` of always-slow (ties: the faster one).
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from pydantic import ValidationError, field_validator

from ragloop.answer.signals import question_signals
from ragloop.answer.verify import GroundingVerifier
from ragloop.errors import DatasetError
from ragloop.records import Candidate, Chunk, EvalRecord, EvalTokens

METRICS = ("correct", "label_accuracy", "exact_match", "judge_correctness", "token_f1")


@dataclass(frozen=True)
class Calibration:
    thresholds: dict[str, float]
    n: int
    accuracy: float
    mean_latency_s: float
    escalation_rate: float
    fast_accuracy: float
    fast_latency_s: float
    slow_accuracy: float
    slow_latency_s: float
    feasible: bool


class MeasuredRecord(EvalRecord):
    """One per-example record the fit reads: an eval record (``examples.jsonl``), or a
    benchmark's (``bench/ttc.py``), which adds the policy it ran, a ``correct`` score, the
    answer's ``latency_s`` and the router's ``signals``, and counts tokens as one number."""

    id: str
    policy: str = ""
    correct: float | None = None
    latency_s: float | None = None
    signals: dict[str, float] | None = None
    tokens: EvalTokens | int = EvalTokens()

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value):
        return str(value)


def load_records(paths: list[Path]) -> list[MeasuredRecord]:
    records: list[MeasuredRecord] = []
    for path in paths:
        file = path / "examples.jsonl" if path.is_dir() else path
        if not file.is_file():
            raise DatasetError(file, "no per-example records here")
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(MeasuredRecord.model_validate_json(line))
            except ValidationError as err:
                raise DatasetError(file, f"not a per-example record: {err.errors()[0]['msg']}",
                                   line=number) from None
    return records


def _correct(record: MeasuredRecord, metric: str | None) -> float | None:
    if metric is None:
        for name in METRICS:
            if (name == "correct" and record.correct is not None) or name in record.scores:
                metric = name
                break
        else:
            return None
    value = record.correct if metric == "correct" else record.scores.get(metric)
    return None if value is None else float(value)


def _latency(record: MeasuredRecord) -> float:
    if record.latency_s is not None:
        return record.latency_s
    return record.latency.answer_s


def recompute_signals(record: MeasuredRecord) -> dict[str, float]:
    signals = dict(question_signals(record.question))
    scores = [r.score for r in record.retrieved]
    if scores:
        signals["margin"] = scores[0] - scores[1] if len(scores) > 1 else scores[0]
    if record.context:
        candidates = [Candidate(chunk=Chunk(id=c.chunk_id, doc_id=c.doc_id, ordinal=i,
                                            text=c.text), score=0.0)
                      for i, c in enumerate(record.context)]
        signals["grounding"] = GroundingVerifier().check(
            record.question, record.answer, candidates).score
    return {**signals, **(record.signals or {})}


def _by_strategy(records: list[MeasuredRecord],
                 metric: str | None) -> dict[str, dict[str, dict]]:
    table: dict[str, dict[str, dict]] = {}
    for record in records:
        if record.error:
            continue
        correct = _correct(record, metric)
        if correct is None:
            continue
        # bench records name the policy (auto@budget) apart from the strategy it ran
        name = record.policy or record.strategy or "direct"
        table.setdefault(name, {})[record.id] = {
            "correct": correct, "latency": _latency(record), "record": record}
    return table


def _grid(signals: list[dict[str, float]], with_multihop: bool) -> dict[str, list[float]]:
    def quantiles(name: str) -> list[float]:
        values = sorted(s[name] for s in signals if name in s)
        if len(values) < 4:
            return [0.0]
        cuts = statistics.quantiles(values, n=4)
        return [0.0, *sorted(set(round(c, 4) for c in cuts))]

    return {"grounding_below": [0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.01],
            "margin_below": quantiles("margin"),
            "arithmetic_at": [0.0, 0.25, 0.5, 0.75, 1.0],
            "multihop_at": [0.0, 0.5, 1.0] if with_multihop else [0.0],
            "length_at": [0.0, *quantiles("length")[1:]]}


def fit_thresholds(records: list[MeasuredRecord | dict], *, fast: str = "direct",
                   slow: str = "vote", metric: str | None = None,
                   max_latency_ratio: float = 0.5) -> Calibration:
    from ragloop.answer.router import DEFAULT_THRESHOLDS, escalation  # the router's own rules

    table = _by_strategy([MeasuredRecord.model_validate(r) for r in records], metric)
    if fast not in table or slow not in table:
        raise DatasetError(Path("."), f"need records for both '{fast}' and '{slow}' "
                                      f"(found: {', '.join(sorted(table)) or 'none'})")
    ids = sorted(set(table[fast]) & set(table[slow]))
    if not ids:
        raise DatasetError(Path("."), f"no example has records for both '{fast}' and '{slow}'")
    decompose = table.get("decompose", {})
    rows = [(recompute_signals(table[fast][i]["record"]), table[fast][i], table[slow][i],
             decompose.get(i)) for i in ids]
    n = len(rows)
    fast_acc = sum(r[1]["correct"] for r in rows) / n
    fast_lat = sum(r[1]["latency"] for r in rows) / n
    slow_acc = sum(r[2]["correct"] for r in rows) / n
    slow_lat = sum(r[2]["latency"] for r in rows) / n
    grid = _grid([r[0] for r in rows], with_multihop=bool(decompose))
    best: tuple | None = None
    for values in itertools.product(*grid.values()):
        thresholds = dict(zip(grid, values, strict=True))
        thresholds_all = {**DEFAULT_THRESHOLDS, **thresholds}
        correct = latency = escalated = 0.0
        for signals, f, s, d in rows:
            go, reason = escalation(signals, thresholds_all)
            target = (d or s) if reason == "multihop" else s
            correct += target["correct"] if go else f["correct"]
            latency += f["latency"] + (target["latency"] if go else 0.0)
            escalated += go
        feasible = latency / n <= max_latency_ratio * slow_lat
        # feasible: most accurate, then fastest; when nothing is feasible: fastest
        key = (True, correct, -latency) if feasible else (False, -latency, correct)
        if best is None or key > best[0]:
            best = (key, thresholds, correct / n, latency / n, escalated / n)
    (feasible, _, _), thresholds, acc, lat, rate = best
    return Calibration(thresholds=thresholds, n=n, accuracy=acc, mean_latency_s=lat,
                       escalation_rate=rate, fast_accuracy=fast_acc, fast_latency_s=fast_lat,
                       slow_accuracy=slow_acc, slow_latency_s=slow_lat, feasible=feasible)


def write_thresholds(config_path: Path, thresholds: dict[str, float]) -> None:
    """Set ``[answer] router_thresholds`` in ``config_path``, keeping comments and layout."""
    doc = tomlkit.parse(config_path.read_text(encoding="utf-8"))
    if "answer" not in doc:
        doc["answer"] = tomlkit.table()
    table = tomlkit.inline_table()
    table.update({k: float(v) for k, v in thresholds.items()})
    doc["answer"]["router_thresholds"] = table
    tmp = config_path.with_name(config_path.name + ".tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    tmp.replace(config_path)
