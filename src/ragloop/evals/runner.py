"""``ragloop eval run``: drive the project's own ``Pipeline`` over a golden dataset.

Each example is retrieved (``pipeline.retrieve``), answered (``pipeline.ask``), scored step by
step and, optionally, judged (``pipeline.judge_llm``); its record is appended to
``examples.jsonl`` as soon as it is done, so an interrupted run resumes where it stopped
(``resume=RUN_DIR``: examples already recorded without error are skipped). Examples run
on an executor (``evals.example.ExampleTask``): threads by default — the local model
serialises its own calls — or another executor's workers. LLM calls go through the
pipeline's cached client.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ragloop.evals import runs
from ragloop.evals.datasets import check_gold_ids, dataset_hash, load_dataset
from ragloop.evals.example import DEFAULT_LABEL_INSTRUCTION, ExampleTask
from ragloop.evals.fingerprint import model_fingerprint, settings_hash
from ragloop.evals.judge_agreement import find_agreements
from ragloop.evals.judges import JUDGES
from ragloop.evals.likelihood import LIKELIHOOD_JUDGE, can_score
from ragloop.evals.report import write_run_report
from ragloop.evals.scoring import ScoringOptions
from ragloop.executors.threads import ThreadExecutor
from ragloop.records import EvalExample, EvalRecord, RunManifest
from ragloop.redact import redact_data

ProgressHook = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class RunOptions:
    limit: int | None = None
    workers: int = 2
    judge: bool = False
    judges: tuple[str, ...] = JUDGES
    ks: tuple[int, ...] = (1, 5, 10)
    # given to the pipeline as the answer instruction when the dataset has labels, so the
    # model answers with one of them; retrieval (the pipeline's and the metrics') uses the
    # bare question
    label_instruction: str = DEFAULT_LABEL_INSTRUCTION
    report: bool = True  # write report.html at the end

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class RunResult:
    run_dir: Path
    aggregates: dict
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def new_run_dir(runs_root: Path, config_hash: str, data_hash: str, options: RunOptions) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(f"{config_hash}|{data_hash}|{options.as_dict()}|{time.time_ns()}"
                            .encode()).hexdigest()[:8]
    path = runs_root / f"{stamp}-{digest}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def _labels_of(examples: list[EvalExample]) -> tuple[str, ...]:
    return tuple(sorted({e.label for e in examples if e.label is not None}))


def _scores_likelihood(pipeline, options: RunOptions) -> bool:
    """The likelihood judge runs beside the faithfulness judge where the judge model can
    score text."""
    return options.judge and "faithfulness" in options.judges \
        and can_score(pipeline.judge_llm)


def _judge_calibration(pipeline, options: RunOptions, version: str) -> dict | None:
    """Each judge's agreement with human labels, as known when the run starts."""
    if not options.judge:
        return None
    judges = tuple(options.judges)
    if _scores_likelihood(pipeline, options):
        judges += (LIKELIHOOD_JUDGE,)  # its score and verdict are in the run too
    found = find_agreements(pipeline.project.data_dir, pipeline.judge_llm.model_id, version,
                            judges)
    return {name: agreement.as_dict() for name, agreement in found.items()}


def _records(executor, task: ExampleTask, todo: list, usage: dict[str, float]
             ) -> Iterator[EvalRecord]:
    """Examples on ``executor``; what worker processes' LLMs spent is added into ``usage``."""
    for outcome in executor.map(task, todo):
        if outcome.error is not None:  # lost with its worker: recorded, so a resume retries
            example = outcome.item
            yield EvalRecord(id=example.id, question=example.question, tags=example.tags,
                             label=example.label, error=outcome.error)
        else:
            if usage is not None:
                for key, value in outcome.result.usage.items():
                    usage[key] = usage.get(key, 0) + value
            yield outcome.result.record


def run_eval(pipeline, dataset: Path | str | None = None, *, options: RunOptions = RunOptions(),
             resume: Path | None = None, progress: ProgressHook | None = None,
             executor=None, worker_pipeline=None) -> RunResult:
    """Run (or resume) an evaluation and write its folder. Returns the folder and aggregates.
    Examples run on ``options.workers`` threads of this process through ``pipeline``; with
    an ``executor`` (``ragloop.executors``) they run on its workers instead, each building
    its pipeline once with ``worker_pipeline`` (a picklable factory, e.g.
    ``Pipeline.factory()``), which is then required. Gold ids that name nothing in the
    index are warned about in ``RunResult.warnings``; when none match, the run stops with
    a ``DatasetError`` before anything runs."""
    if executor is not None and worker_pipeline is None:
        raise ValueError("an executor's workers need worker_pipeline to build their pipeline")
    settings = pipeline.settings
    eval_settings = settings.eval
    if resume is not None:
        run_dir = Path(resume)
        manifest = runs.load_run(run_dir).manifest
        dataset = Path(manifest.dataset)
        options = RunOptions(**{**manifest.options, "judges": tuple(manifest.options["judges"]),
                                "ks": tuple(manifest.options["ks"])})
        if manifest.config_hash != settings_hash(settings.model_dump(mode="json")):
            raise runs.RunFolderError(
                f"{run_dir}: the project configuration changed since this run started; "
                "start a new run instead of mixing results")
    if dataset is None:
        raise ValueError("a dataset or a run to resume is needed")
    dataset = Path(dataset).resolve()
    examples = load_dataset(dataset)
    # the label set comes from the whole dataset: a --limit subset must not narrow the
    # choices offered to the model (or leak its gold distribution into the prompt)
    labels = _labels_of(examples)
    examples = examples[:options.limit] if options.limit else examples
    warning = check_gold_ids(pipeline.store, examples, dataset)
    config_dump = settings.model_dump(mode="json")
    config_hash = settings_hash(config_dump)
    data_hash = dataset_hash(dataset)
    if resume is None:
        run_dir = new_run_dir(pipeline.project.data_dir / "runs", config_hash, data_hash, options)
        # the snapshot is shown (report, server): passwords in URLs are masked
        runs.write_json(run_dir / runs.CONFIG, redact_data(config_dump))
        manifest = RunManifest(
            created=datetime.now(UTC).isoformat(), dataset=str(dataset),
            dataset_hash=data_hash, config_hash=config_hash, options=options.as_dict(),
            model=model_fingerprint(pipeline.llm, pipeline.project.data_dir / "cache"
                                    / "model_hashes.json"),
            judge_model=pipeline.judge_llm.model_id if options.judge else None,
            judge_prompt_version=eval_settings.judge_prompt_version,
            judge_calibration=_judge_calibration(pipeline, options,
                                                 eval_settings.judge_prompt_version),
            n_examples=len(examples), status="running")
        runs.write_json(run_dir / runs.MANIFEST, manifest)
    scoring = ScoringOptions(ks=options.ks, labels=labels, judge=options.judge,
                             judges=options.judges,
                             judge_prompt_version=manifest.judge_prompt_version,
                             judge_seed=eval_settings.seed,
                             likelihood=_scores_likelihood(pipeline, options),
                             likelihood_threshold=((manifest.judge_calibration or {})
                                                   .get(LIKELIHOOD_JUDGE) or {})
                             .get("threshold"))
    done_ids = {r.id for r in runs.read_records(run_dir) if r.ok}
    todo = [e for e in examples if e.id not in done_ids]
    result = RunResult(run_dir, {}, skipped=len(examples) - len(todo),
                       warnings=[warning] if warning else [])
    finished = result.skipped
    if progress:
        progress(finished, len(examples))
    runs.repair_tail(run_dir / runs.EXAMPLES)
    worker_usage: dict[str, float] = {}
    with (run_dir / runs.EXAMPLES).open("a", encoding="utf-8") as out:
        if executor is None:
            task = ExampleTask(scoring, options.label_instruction, pipeline=pipeline)
            where = ThreadExecutor(options.workers, prefix="eval")
        else:
            task = ExampleTask(scoring, options.label_instruction, make_pipeline=worker_pipeline)
            where = executor
        try:
            for record in _records(where, task, todo, worker_usage):
                out.write(record.model_dump_json() + "\n")
                out.flush()
                if record.error:
                    result.errors.append(f"{record.id}: {record.error}")
                finished += 1
                if progress:
                    progress(finished, len(examples))
        finally:
            if executor is None:
                where.close()
    wanted = {e.id for e in examples}
    records = [r for r in runs.read_records(run_dir) if r.id in wanted]
    result.aggregates = runs.aggregate(records, samples=eval_settings.bootstrap_samples,
                                       seed=eval_settings.seed)
    runs.write_json(run_dir / runs.AGGREGATES, result.aggregates)
    manifest = manifest.model_copy(update={
        "status": "complete", "finished": datetime.now(UTC).isoformat(),
        "usage": {k: v + worker_usage.get(k, 0) for k, v in pipeline.llm.usage.as_dict().items()}})
    runs.write_json(run_dir / runs.MANIFEST, manifest)
    if options.report:
        write_run_report(run_dir)
    return result
