"""Judge scores carry their calibration: beside every judge metric, the judge's agreement
with human labels (Cohen's kappa from ``ragloop eval calibrate``), and a flag when it is
below ``MIN_KAPPA`` — such a judge's scores are not evidence of answer quality.

Where agreement comes from (first found wins), always for the same judge model and judge
prompt version:

1. the project's own calibration, written by ``ragloop eval calibrate`` (on the user's
   labels or the shipped set) to ``<data dir>/calibration/<model>--<version>.json``;
2. the calibration ragloop ships for its default judge on the shipped labels
   (``ragloop/data/judge_calibration.json``, measured with ``ragloop eval calibrate``).

``eval run`` copies what it finds into the run manifest (``judge_calibration``), so a report
says what was known when the run was made, and an old run without it says so.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from ragloop.evals.likelihood import GAIN_METRIC, LIKELIHOOD_JUDGE, VERDICT_METRIC
from ragloop.records import RunManifest

MIN_KAPPA = 0.4  # below: fair agreement at best (Landis & Koch), flagged as uncalibrated
JUDGE_PREFIX = "judge_"
# metrics whose judge is not named by what follows "judge_" (the kappa of the likelihood
# judge is that of its verdict at the fitted threshold)
SCORE_JUDGES = {GAIN_METRIC: LIKELIHOOD_JUDGE, VERDICT_METRIC: LIKELIHOOD_JUDGE}
SHIPPED_SOURCE = "shipped labels"


@dataclass(frozen=True)
class Agreement:
    judge: str
    kappa: float | None  # None: no calibration for this judge model and prompt version
    n: int = 0
    source: str = ""  # "shipped labels" or the path of the user's labels file
    threshold: float | None = None  # a scoring judge's fitted verdict cut

    @property
    def calibrated(self) -> bool:
        return self.kappa is not None and not math.isnan(self.kappa) and \
            self.kappa >= MIN_KAPPA

    def describe(self) -> str:
        if self.kappa is None:
            return "not calibrated (run ragloop eval calibrate)"
        kappa = "nan" if math.isnan(self.kappa) else f"{self.kappa:.2f}"
        where = f"n={self.n}, {self.source}"
        if self.calibrated:
            return f"kappa {kappa} ({where})"
        return f"UNCALIBRATED: kappa {kappa} < {MIN_KAPPA} ({where})"

    def as_dict(self) -> dict:
        extra = {} if self.threshold is None else {"threshold": self.threshold}
        return {**extra, "kappa": self.kappa, "n": self.n, "source": self.source,
                "calibrated": self.calibrated, "min_kappa": MIN_KAPPA}


def judge_of(metric: str) -> str | None:
    """``judge_correctness`` → ``correctness``, ``faithfulness_gain`` → the likelihood
    judge; None for a metric no judge produced."""
    if metric in SCORE_JUDGES:
        return SCORE_JUDGES[metric]
    return metric[len(JUDGE_PREFIX):] if metric.startswith(JUDGE_PREFIX) else None


def _slug(model: str, version: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{model}--{version}")


def calibration_path(data_dir: Path, model: str, version: str) -> Path:
    return Path(data_dir) / "calibration" / f"{_slug(model, version)}.json"


def shipped_calibration_path() -> Path:
    return Path(str(resources.files("ragloop") / "data" / "judge_calibration.json"))


def save_calibration(data_dir: Path, report, *, labels_source: str) -> Path:
    """Store a ``CalibrationReport`` for the project; later runs of this judge model and
    prompt version show its kappas. Returns the file written."""
    path = calibration_path(data_dir, report.model, report.prompt_version)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"model": report.model, "prompt_version": report.prompt_version,
             "labels": labels_source, "created": datetime.now(UTC).isoformat(),
             "judges": [j.as_dict() for j in report.judges]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(entry, indent=2, default=_nan_safe), encoding="utf-8")
    tmp.replace(path)
    return path


def _nan_safe(value):
    return None if isinstance(value, float) and math.isnan(value) else str(value)


def _from_entry(entry: dict) -> dict[str, Agreement]:
    out = {}
    for j in entry.get("judges", []):
        kappa = j.get("kappa")
        threshold = j.get("threshold")
        out[j["judge"]] = Agreement(j["judge"], float("nan") if kappa is None else float(kappa),
                                    int(j.get("n", 0)), str(entry.get("labels", "")),
                                    None if threshold is None else float(threshold))
    return out


def find_agreements(data_dir: Path | None, model: str, version: str,
                    judges: tuple[str, ...]) -> dict[str, Agreement]:
    """Agreement per judge for this judge model and prompt version (see module doc)."""
    found: dict[str, Agreement] = {}
    if data_dir is not None:
        own = calibration_path(data_dir, model, version)
        if own.is_file():
            found = _from_entry(json.loads(own.read_text(encoding="utf-8")))
    shipped = shipped_calibration_path()
    if shipped.is_file():
        for entry in json.loads(shipped.read_text(encoding="utf-8")):
            if entry["model"] == model and entry["prompt_version"] == version:
                for name, agreement in _from_entry(entry).items():
                    found.setdefault(name, agreement)
    return {name: found.get(name, Agreement(name, None)) for name in judges}


def agreement_of_any_model(data_dir: Path | None, version: str, judge: str) -> Agreement:
    """Agreement of a judge that calls no model (the grounding check scores the same for
    every judge model): the project's newest calibration that measured it, else the
    shipped one, for this prompt version."""
    entries = []
    if data_dir is not None and (Path(data_dir) / "calibration").is_dir():
        own = sorted((Path(data_dir) / "calibration").glob("*.json"),
                     key=lambda p: p.stat().st_mtime, reverse=True)
        entries += [json.loads(p.read_text(encoding="utf-8")) for p in own]
    shipped = shipped_calibration_path()
    if shipped.is_file():
        entries += json.loads(shipped.read_text(encoding="utf-8"))
    for entry in entries:
        if entry.get("prompt_version") == version and judge in (found := _from_entry(entry)):
            return found[judge]
    return Agreement(judge, None)


def likelihood_threshold(data_dir: Path | None, model: str, version: str) -> float | None:
    """The likelihood judge's fitted threshold for this model: the project's calibration,
    else the shipped one, else None."""
    return find_agreements(data_dir, model, version, (LIKELIHOOD_JUDGE,))[
        LIKELIHOOD_JUDGE].threshold


def agreements_of_run(manifest: RunManifest | None) -> dict[str, Agreement]:
    """The agreements recorded in a run's manifest (empty for a run made without judges or
    before calibration was recorded)."""
    out = {}
    calibration = manifest.judge_calibration if manifest is not None else None
    for name, data in (calibration or {}).items():
        kappa = data.get("kappa")
        out[name] = Agreement(name, None if kappa is None and not data.get("source")
                              else float("nan") if kappa is None else float(kappa),
                              int(data.get("n", 0)), str(data.get("source", "")))
    return out


def agreement_for_metric(metric: str, agreements: dict[str, Agreement]) -> Agreement | None:
    """The agreement to show beside ``metric``: None for a non-judge metric, an
    uncalibrated ``Agreement`` for a judge metric nothing is known about."""
    judge = judge_of(metric)
    if judge is None:
        return None
    return agreements.get(judge, Agreement(judge, None))
